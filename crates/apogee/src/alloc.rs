//! The process's allocator. jemalloc (the default build) with its
//! background purging threads on: freed memory goes back to the system
//! after its decay time (10 s) even when the process then sits idle, where
//! glibc's per-thread arenas keep a burst's peak for good. `--features
//! mimalloc --no-default-features` builds with mimalloc instead, and with
//! neither feature the system allocator is used.

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Starts the allocator's background purging (jemalloc only; a no-op
/// otherwise). Failure only costs memory return, so it is logged.
pub fn start_purging() {
    #[cfg(feature = "jemalloc")]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!("cannot start jemalloc's background purge threads: {e}");
    }
}

/// The allocator this binary was built with.
pub fn name() -> &'static str {
    if cfg!(feature = "jemalloc") {
        "jemalloc"
    } else if cfg!(feature = "mimalloc") {
        "mimalloc"
    } else {
        "system"
    }
}
