//! JSON bodies, with the fastjson quirks of remoting-protocol §6.
