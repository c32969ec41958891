"""Interop suite: the RocketMQ 5.x Python client (rocketmq-python-client
5.1.2, gRPC) against a real Apogee. Starts a standalone Apogee and, for the
cluster test, a second broker group at the same NameServer, all on free
loopback ports. Prints "N passed, M failed" last; exits non-zero on failure.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

from rocketmq import (ClientConfiguration, ConsumeResult, Credentials,
                      FilterExpression, Message, MessageListener, Producer,
                      PushConsumer, SimpleConsumer, TransactionChecker,
                      TransactionResolution)

BIN = os.environ.get("APOGEE_BIN", "")
WORK = tempfile.mkdtemp(prefix="apogee-python-grpc-")
PROCS = []
# The TLS scenario's CA, made by that test; grpc reads this variable when it
# first builds TLS credentials, which only that test does.
TLS_CA = os.path.join(WORK, "tls-ca.pem")
os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = TLS_CA
# Shared machines run with full disks; the suite writes only a few KiB.
DISK = "diskMaxUsedSpaceRatio=99\ndiskSpaceWarningLevelRatio=99\ndiskSpaceCleanForciblyRatio=99\n"


def free_port():
    """A free loopback port whose port - 2 is free too (brokers serve both)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port > 20000 and is_free(port - 2) and is_free(port + 1):
            return port
    raise RuntimeError("no free port found")


def is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_listening(port, name, log):
    deadline = time.time() + 20
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port}; see {log}")


def start(name, args, wait_port):
    log = os.path.join(WORK, f"{name}.log")
    out = open(log, "w")
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"))
    proc = subprocess.Popen([BIN] + args, stdout=out, stderr=out, env=env)
    PROCS.append(proc)
    wait_listening(wait_port, name, log)
    return proc


def admin(namesrv, *args):
    # A broker that is listening may not have registered yet (a loaded
    # machine): its cluster is then unknown to the NameServer for a moment.
    deadline = time.time() + 30
    while True:
        out = subprocess.run([BIN, "admin", *args, "-n", namesrv], capture_output=True, text=True, timeout=30)
        if out.returncode == 0:
            return out.stdout
        if "unknown to the NameServer" not in out.stderr or time.time() > deadline:
            raise RuntimeError(f"admin {args} failed: {out.stdout} {out.stderr}")
        time.sleep(0.2)


class Cluster:
    """One standalone (broker-a) and, on demand, a second group (broker-b)."""

    def __init__(self):
        self.ns_port = free_port()
        self.broker_port = free_port()
        self.grpc_port = free_port()
        conf = os.path.join(WORK, "a.conf")
        with open(conf, "w") as f:
            # Quick transaction checks so the "unknown" case resolves fast.
            f.write("brokerName=broker-a\ntransactionCheckInterval=1000\ntransactionTimeOut=2000\n" + DISK)
        start("standalone", ["standalone", "--namesrv-listen", f"127.0.0.1:{self.ns_port}",
                             "--broker-listen", f"127.0.0.1:{self.broker_port}",
                             "--grpc-listen", f"127.0.0.1:{self.grpc_port}",
                             "--data-dir", os.path.join(WORK, "a"), "-c", conf], self.grpc_port)
        self.namesrv = f"127.0.0.1:{self.ns_port}"
        self.endpoint = f"127.0.0.1:{self.grpc_port}"
        self.second = None

    def start_second(self):
        if self.second:
            return
        port = free_port()
        grpc_port = free_port()
        conf = os.path.join(WORK, "b.conf")
        with open(conf, "w") as f:
            f.write("brokerName=broker-b\n" + DISK)
        start("broker-b", ["broker", "-n", self.namesrv, "--listen", f"127.0.0.1:{port}",
                           "--grpc-listen", f"127.0.0.1:{grpc_port}",
                           "--data-dir", os.path.join(WORK, "b"), "-c", conf], grpc_port)
        self.second = grpc_port

    def config(self):
        return ClientConfiguration(self.endpoint, Credentials(), request_timeout=5)


# The accounts of every security test (brokerAdmin, operator, publisher,
# subscriber), shared with the Rust suites.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "crates", "testkit", "fixtures", "plain_acl.yml")) as _f:
    ACL_FILE = _f.read()


class AclCluster:
    """A standalone with aclEnable: the gRPC endpoint checks the clients'
    credentials against plain_acl.yml; the broker signs its own calls with
    the admin account."""

    def __init__(self):
        self.ns_port = free_port()
        self.broker_port = free_port()
        self.grpc_port = free_port()
        acl = os.path.join(WORK, "plain_acl.yml")
        with open(acl, "w") as f:
            f.write(ACL_FILE)
        conf = os.path.join(WORK, "acl.conf")
        with open(conf, "w") as f:
            f.write(f"brokerName=broker-acl\naclEnable=true\naclFilePath={acl}\n"
                    "accessKey=brokerAdmin\nsecretKey=broker-admin-secret\n" + DISK)
        start("standalone-acl", ["standalone", "--namesrv-listen", f"127.0.0.1:{self.ns_port}",
                                 "--broker-listen", f"127.0.0.1:{self.broker_port}",
                                 "--grpc-listen", f"127.0.0.1:{self.grpc_port}", "--no-http",
                                 "--data-dir", os.path.join(WORK, "acl"), "-c", conf], self.grpc_port)
        self.namesrv = f"127.0.0.1:{self.ns_port}"
        self.endpoint = f"127.0.0.1:{self.grpc_port}"

    def config(self, ak, sk):
        return ClientConfiguration(self.endpoint, Credentials(ak, sk), request_timeout=5)


def make_test_certificates(directory):
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl)."""
    os.makedirs(directory, exist_ok=True)
    ca_key, server_key = (os.path.join(directory, n) for n in ("ca.key", "server.key"))
    server_csr, server_pem = (os.path.join(directory, n) for n in ("server.csr", "server.pem"))
    ext = os.path.join(directory, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    for cmd in (
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", ca_key, "-out", TLS_CA, "-days", "2", "-subj", "/CN=apogee interop test CA"],
        ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", server_key, "-out", server_csr, "-subj", "/CN=127.0.0.1"],
        ["openssl", "x509", "-req", "-in", server_csr, "-CA", TLS_CA, "-CAkey", ca_key,
         "-CAcreateserial", "-out", server_pem, "-days", "2", "-extfile", ext],
    ):
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
    return server_pem, server_key


class TlsCluster:
    """A standalone whose ports speak TLS with a certificate this test made
    (permissive: TLS and plaintext on one port, so the admin tool may stay
    plaintext); the Python client connects with tls_enable=True."""

    def __init__(self):
        cert, key = make_test_certificates(os.path.join(WORK, "tls"))
        self.ns_port = free_port()
        self.broker_port = free_port()
        self.grpc_port = free_port()
        conf = os.path.join(WORK, "tls.conf")
        with open(conf, "w") as f:
            f.write(f"brokerName=broker-tls\ntls.server.mode=permissive\n"
                    f"tls.server.certPath={cert}\ntls.server.keyPath={key}\n" + DISK)
        start("standalone-tls", ["standalone", "--namesrv-listen", f"127.0.0.1:{self.ns_port}",
                                 "--broker-listen", f"127.0.0.1:{self.broker_port}",
                                 "--grpc-listen", f"127.0.0.1:{self.grpc_port}", "--no-http",
                                 "--data-dir", os.path.join(WORK, "tls-data"), "-c", conf], self.grpc_port)
        self.namesrv = f"127.0.0.1:{self.ns_port}"
        self.endpoint = f"127.0.0.1:{self.grpc_port}"

    def config(self):
        return ClientConfiguration(self.endpoint, Credentials(), request_timeout=5)


ACL_CLUSTER = []


def acl_cluster():
    if not ACL_CLUSTER:
        ACL_CLUSTER.append(AclCluster())
    return ACL_CLUSTER[0]


def acl_topic(acl):
    topic = unique("TAcl")
    deadline = time.time() + 20
    while True:  # the broker registers just after its ports listen
        try:
            admin(acl.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster",
                  "--access-key", "brokerAdmin", "--secret-key", "broker-admin-secret")
            return topic
        except RuntimeError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def refused(what, action, *needles):
    """Runs `action`, which must raise an error whose text holds a needle."""
    try:
        action()
    except Exception as e:  # the client raises UnauthorizedException
        text = f"{type(e).__name__}: {e}"
        check(any(n in text for n in needles), f"{what}: unexpected error {text}")
        return text
    raise AssertionError(f"{what} was not refused")


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def producer(cluster, topics, checker=None):
    p = Producer(cluster.config(), tuple(topics), checker)
    p.startup()
    return p


def consumer(cluster, group, topic, expression="*", await_s=5):
    c = SimpleConsumer(cluster.config(), group, {topic: FilterExpression(expression)}, await_duration=await_s)
    c.startup()
    return c


def message(topic, body, tag=None, keys=None):
    m = Message()
    m.topic = topic
    m.body = body
    if tag:
        m.tag = tag
    if keys:
        m.keys = keys
    return m


def receive_until(c, want, seconds, invisible=20, ack=True):
    """Receives until `want` messages arrived or `seconds` passed."""
    got = []
    deadline = time.time() + seconds
    while len(got) < want and time.time() < deadline:
        for m in c.receive(32, invisible) or []:
            got.append(m)
            if ack:
                c.ack(m)
    return got


def check(cond, text):
    if not cond:
        raise AssertionError(text)


# ---- the tests ----------------------------------------------------------

def test_send_receive_100(cluster):
    topic, group = unique("T100"), unique("G100")
    admin(cluster.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster")
    p = producer(cluster, [topic])
    c = consumer(cluster, group, topic)
    try:
        sent = set()
        for i in range(100):
            r = p.send(message(topic, f"body-{i}".encode(), tag="T", keys=f"k{i}"))
            sent.add(r.message_id)
        got = receive_until(c, 100, 60)
        ids = [m.message_id for m in got]
        check(len(ids) == len(set(ids)), f"duplicates among {len(ids)} received")
        check(set(ids) == sent, f"received {len(set(ids))} of 100 sent")
        check(all(m.body.startswith(b"body-") for m in got), "bodies differ")
        check(all(m.tag == "T" for m in got), "tags lost")
        extra = c.receive(32, 20) or []
        check(not extra, f"{len(extra)} message(s) came back after ack")
    finally:
        c.shutdown()
        p.shutdown()


def test_invisible_redelivery(cluster):
    topic, group = unique("TRedo"), unique("GRedo")
    admin(cluster.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster")
    p = producer(cluster, [topic])
    c = consumer(cluster, group, topic)
    try:
        mid = p.send(message(topic, b"again")).message_id
        first = receive_until(c, 1, 20, invisible=10, ack=False)
        check(len(first) == 1 and first[0].message_id == mid, "first delivery missing")
        check(first[0].delivery_attempt == 1, f"first attempt is {first[0].delivery_attempt}")
        second = receive_until(c, 1, 40, invisible=10, ack=True)
        check(len(second) == 1 and second[0].message_id == mid, "no redelivery after the invisible time")
        check(second[0].delivery_attempt == 2, f"redelivery attempt is {second[0].delivery_attempt}")
    finally:
        c.shutdown()
        p.shutdown()


def test_tag_filter(cluster):
    topic, group = unique("TTag"), unique("GTag")
    admin(cluster.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster")
    p = producer(cluster, [topic])
    c = consumer(cluster, group, topic, "TagA")
    try:
        for i in range(10):
            p.send(message(topic, f"m{i}".encode(), tag="TagA" if i % 2 == 0 else "TagB"))
        got = receive_until(c, 5, 30)
        more = c.receive(32, 20) or []
        tags = [m.tag for m in got + more]
        check(len(tags) == 5 and all(t == "TagA" for t in tags), f"received tags {tags}")
    finally:
        c.shutdown()
        p.shutdown()


def test_delivery_timestamp(cluster):
    topic, group = unique("TDelay"), unique("GDelay")
    admin(cluster.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster", "-a", "+message.type=DELAY")
    p = producer(cluster, [topic])
    c = consumer(cluster, group, topic)
    try:
        # The 5.1.2 client puts this integer into Timestamp.seconds.
        at = int(time.time()) + 4
        m = message(topic, b"later")
        m.delivery_timestamp = at
        p.send(m)
        got = receive_until(c, 1, 30)
        now = time.time()
        check(len(got) == 1, "the timed message never came")
        check(now >= at - 0.5, f"delivered {at - now:.1f} s early")
        check(got[0].delivery_timestamp == at * 1000, f"delivery_timestamp {got[0].delivery_timestamp}")
    finally:
        c.shutdown()
        p.shutdown()


def test_wrong_type_is_refused(cluster):
    topic = unique("TFifoOnly")
    admin(cluster.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster", "-a", "+message.type=FIFO")
    p = producer(cluster, [topic])
    try:
        try:
            p.send(message(topic, b"normal"))
        except Exception as e:  # the client refuses it (accept_message_types)
            check("FIFO" in str(e) or "type" in str(e).lower(), f"unexpected error {e}")
            return
        raise AssertionError("a NORMAL message was accepted by a FIFO topic")
    finally:
        p.shutdown()


def test_fifo_order(cluster):
    topic, group = unique("TFifo"), unique("GFifo")
    admin(cluster.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster", "-a", "+message.type=FIFO")
    admin(cluster.namesrv, "updateSubGroup", "-g", group, "-o", "true")
    p = producer(cluster, [topic])
    c = consumer(cluster, group, topic)
    try:
        for i in range(10):
            for g in ("g1", "g2", "g3"):
                m = message(topic, f"{g}-{i}".encode())
                m.message_group = g
                p.send(m)
        got = receive_until(c, 30, 60)
        seen = {}
        for m in got:
            g, i = m.body.decode().split("-")
            seen.setdefault(g, []).append(int(i))
            check(m.message_group == g, f"message_group {m.message_group} != {g}")
        for g in ("g1", "g2", "g3"):
            check(seen.get(g) == list(range(10)), f"group {g} came as {seen.get(g)}")
    finally:
        c.shutdown()
        p.shutdown()


class Checker(TransactionChecker):
    def __init__(self):
        self.checked = []

    def check(self, message):
        self.checked.append(message.message_id)
        return TransactionResolution.COMMIT


def test_transactions(cluster):
    topic, group = unique("TTx"), unique("GTx")
    admin(cluster.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster", "-a", "+message.type=TRANSACTION")
    checker = Checker()
    p = producer(cluster, [topic], checker)
    c = consumer(cluster, group, topic)
    try:
        t1 = p.begin_transaction()
        p.send(message(topic, b"commit"), t1)
        t1.commit()
        t2 = p.begin_transaction()
        p.send(message(topic, b"rollback"), t2)
        t2.rollback()
        t3 = p.begin_transaction()
        unknown = p.send(message(topic, b"unknown"), t3).message_id
        got = receive_until(c, 2, 40)
        bodies = sorted(m.body for m in got)
        more = c.receive(32, 20) or []
        check(not more, f"unexpected extra messages {[m.body for m in more]}")
        check(bodies == [b"commit", b"unknown"], f"received {bodies}")
        check(unknown in checker.checked, "the unknown transaction was never checked")
    finally:
        c.shutdown()
        p.shutdown()


def test_two_broker_groups_through_one_endpoint(cluster):
    cluster.start_second()
    topic, group = unique("TClu"), unique("GClu")
    admin(cluster.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster")
    time.sleep(1)
    p = producer(cluster, [topic])
    c = consumer(cluster, group, topic)
    try:
        brokers = set()
        sent = set()
        for i in range(40):
            r = p.send(message(topic, f"c{i}".encode()))
            sent.add(r.message_id)
            brokers.add(r.message_queue._MessageQueue__broker_name)  # no public getter in 5.1.2
        check(brokers == {"broker-a", "broker-b"}, f"sends reached {brokers}")
        got = receive_until(c, 40, 90)
        ids = {m.message_id for m in got}
        check(ids == sent, f"received {len(ids)} of 40 from both groups")
    finally:
        c.shutdown()
        p.shutdown()


class Collect(MessageListener):
    """Fails each message's first delivery, then succeeds."""

    def __init__(self):
        self.attempts = {}
        self.lock = threading.Lock()

    def consume(self, message):
        with self.lock:
            self.attempts.setdefault(message.message_id, []).append(message.delivery_attempt)
            first = len(self.attempts[message.message_id]) == 1
        return ConsumeResult.FAILURE if first else ConsumeResult.SUCCESS


def test_push_consumer(cluster):
    topic, group = unique("TPush"), unique("GPush")
    admin(cluster.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster")
    p = producer(cluster, [topic])
    listener = Collect()
    c = PushConsumer(cluster.config(), group, listener, {topic: FilterExpression("*")})
    c.startup()
    try:
        sent = {p.send(message(topic, f"p{i}".encode())).message_id for i in range(5)}
        # A failed message comes back after the backoff for attempt 1 (1 s).
        deadline = time.time() + 60
        while time.time() < deadline:
            with listener.lock:
                done = all(len(listener.attempts.get(m, [])) >= 2 for m in sent)
            if done:
                break
            time.sleep(0.5)
        with listener.lock:
            got = {m: a[:2] for m, a in listener.attempts.items()}
        check(set(got) == sent, f"push consumer saw {len(got)} of 5")
        check(all(a == [1, 2] for a in got.values()), f"delivery attempts {got}")
    finally:
        c.shutdown()
        p.shutdown()


def test_acl_allowed_accounts_work(cluster):
    acl = acl_cluster()
    topic, group = acl_topic(acl), unique("GAcl")
    p = Producer(acl.config("publisher", "pub-secret"), (topic,))
    p.startup()
    c = SimpleConsumer(acl.config("subscriber", "sub-secret"), group,
                       {topic: FilterExpression("*")}, await_duration=5)
    c.startup()
    try:
        sent = {p.send(message(topic, f"acl-{i}".encode())).message_id for i in range(5)}
        got = receive_until(c, 5, 30)
        check({m.message_id for m in got} == sent, f"received {len(got)} of 5")
    finally:
        c.shutdown()
        p.shutdown()


def test_acl_wrong_secret_is_refused(cluster):
    acl = acl_cluster()
    topic = acl_topic(acl)

    def send_with_wrong_secret():
        p = Producer(acl.config("publisher", "not-the-secret"), (topic,))
        try:
            p.startup()
            p.send(message(topic, b"x"))
        finally:
            p.shutdown()
    # A refused QueryRoute at startup is reported without the server's text.
    refused("a wrong secret", send_with_wrong_secret,
            "Check signature failed for accessKey=publisher", "failed to fetch topic")

    def send_with_unknown_key():
        p = Producer(acl.config("stranger", "whatever-secret"), (topic,))
        try:
            p.startup()
            p.send(message(topic, b"x"))
        finally:
            p.shutdown()
    refused("an unknown key", send_with_unknown_key, "No acl config for stranger", "failed to fetch topic")


def test_acl_missing_permission_is_refused(cluster):
    acl = acl_cluster()
    topic = acl_topic(acl)

    def subscriber_sends():
        p = Producer(acl.config("subscriber", "sub-secret"), (topic,))
        try:
            p.startup()
            p.send(message(topic, b"x"))
        finally:
            p.shutdown()
    refused("a send by a SUB-only account", subscriber_sends, f"No PUB permission for topic:{topic}")

    def publisher_receives():
        c = SimpleConsumer(acl.config("publisher", "pub-secret"), unique("GAclPub"),
                           {topic: FilterExpression("*")}, await_duration=5)
        try:
            c.startup()
            c.receive(1, 20)
        finally:
            c.shutdown()
    refused("a receive by a PUB-only account", publisher_receives, "No SUB permission for ")


def test_tls_send_and_receive(cluster):
    tls = TlsCluster()
    topic, group = unique("TTls"), unique("GTls")
    admin(tls.namesrv, "updateTopic", "-t", topic, "-c", "DefaultCluster")
    p = Producer(tls.config(), (topic,), tls_enable=True)
    p.startup()
    c = SimpleConsumer(tls.config(), group, {topic: FilterExpression("*")},
                       await_duration=5, tls_enable=True)
    c.startup()
    try:
        sent = {p.send(message(topic, f"tls-{i}".encode())).message_id for i in range(5)}
        got = receive_until(c, 5, 30)
        check({m.message_id for m in got} == sent, f"received {len(got)} of 5 over TLS")
    finally:
        c.shutdown()
        p.shutdown()


TESTS = [
    test_send_receive_100,
    test_invisible_redelivery,
    test_tag_filter,
    test_delivery_timestamp,
    test_wrong_type_is_refused,
    test_fifo_order,
    test_transactions,
    test_push_consumer,
    test_two_broker_groups_through_one_endpoint,
    test_acl_allowed_accounts_work,
    test_acl_wrong_secret_is_refused,
    test_acl_missing_permission_is_refused,
    test_tls_send_and_receive,
]


def main():
    if not BIN or not os.path.exists(BIN):
        print(f"APOGEE_BIN `{BIN}` does not exist")
        print("0 passed, 1 failed")
        return 1
    only = sys.argv[1:]
    passed = failed = 0
    cluster = None
    try:
        cluster = Cluster()
        for t in TESTS:
            if only and t.__name__ not in only:
                continue
            started = time.time()
            try:
                t(cluster)
                passed += 1
                print(f"ok   {t.__name__} ({time.time() - started:.1f} s)")
            except Exception as e:  # report and go on with the next test
                failed += 1
                print(f"FAIL {t.__name__}: {e}")
                traceback.print_exc()
    except Exception as e:
        failed += 1
        print(f"FAIL harness: {e}")
    finally:
        for proc in PROCS:
            proc.terminate()
        for proc in PROCS:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    if failed:
        print(f"logs in {WORK}")
    else:
        shutil.rmtree(WORK, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
