#![no_main]
//! Arbitrary bytes as a fastjson body: the lenient reader and every typed
//! body decoder must return an error or a value, never panic.
use libfuzzer_sys::fuzz_target;
use protocol::body;

fuzz_target!(|data: &[u8]| {
    let _ = body::fastjson::parse(data);
    let _ = body::heartbeat::HeartbeatData::from_json_bytes(data);
    let _ = body::consumer::ConsumeStats::from_json_bytes(data);
    let _ = body::reset_offset::ResetOffsetBody::from_json_bytes(data);
    let _ = body::lock::LockBatchRequestBody::from_json_bytes(data);
    let _ = body::group::ConsumerOffsetSerializeWrapper::from_json_bytes(data);
    let _ = body::route::TopicRouteData::decode(data);
    let _ = body::topic::TopicConfigSerializeWrapper::decode(data);
    let _ = body::register::RegisterBrokerBody::decode(data, false, 479);
    let _ = body::register::RegisterBrokerBody::decode(data, true, 479);
});
