//! Records over the store: load a stored message, put one, park it under
//! a system topic and restore its real destination.

pub mod slave_ack;
