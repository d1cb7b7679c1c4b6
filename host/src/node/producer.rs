//! The block producer: a thread that asks the consensus module whether to seal, when
//! a transaction arrives or a block time passes, and produces the block.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::chain::driver::Chain;

/// Wakes the producer: a transaction arrived, or the node stops.
#[derive(Debug, Default)]
pub struct Wake {
    pending: Mutex<bool>,
    cv: Condvar,
    stop: AtomicBool,
}

impl Wake {
    /// Something changed: look at the pool now.
    pub fn notify(&self) {
        *super::lock(&self.pending) = true;
        self.cv.notify_one();
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.notify();
    }

    /// Waits for a notification or `timeout`.
    fn wait(&self, timeout: Duration) {
        let pending = super::lock(&self.pending);
        let (mut pending, _) = self
            .cv
            .wait_timeout_while(pending, timeout, |p| !*p)
            .unwrap_or_else(|p| p.into_inner());
        *pending = false;
    }
}

/// The running producer; dropping it stops the thread.
#[derive(Debug)]
pub struct Producer {
    wake: Arc<Wake>,
    thread: Option<JoinHandle<()>>,
}

impl Producer {
    /// Starts producing on `chain`: `block_time` seconds apart, or (0) as soon as
    /// transactions are pending.
    pub fn start(chain: Arc<Chain>, block_time: u64, wake: Arc<Wake>) -> std::io::Result<Self> {
        let w = wake.clone();
        let thread = std::thread::Builder::new()
            .name("molt-producer".into())
            .spawn(move || run(&chain, block_time, &w))?;
        Ok(Producer {
            wake,
            thread: Some(thread),
        })
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.wake.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(chain: &Chain, block_time: u64, wake: &Wake) {
    // With a block time, look twice a second whether it has passed; otherwise sleep
    // until a transaction arrives (and look now and then in case one was missed).
    let idle = if block_time > 0 {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(1)
    };
    while !wake.stop.load(Ordering::SeqCst) {
        match chain.tick(super::clock::now(), block_time) {
            Ok(Some(block)) => {
                tracing::info!(
                    target: "molt::chain",
                    number = block.header.number,
                    txs = block.transactions.len(),
                    gas_used = block.header.gas_used,
                    hash = %block.hash,
                    "block sealed"
                );
                // More may be pending (the block was full, or they arrived meanwhile).
                if chain.pool_len() > 0 && block_time == 0 {
                    continue;
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(target: "molt::chain", "producing a block failed: {e}"),
        }
        wake.wait(idle);
    }
}
