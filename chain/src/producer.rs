//! The block producer: a thread that asks the consensus module whether to seal, when
//! a transaction arrives or a block time passes, and produces the block.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::chain::Chain;
use crate::clock;
use crate::wake::Wake;

/// The running producer; dropping it stops the thread.
#[derive(Debug)]
pub struct Producer {
    wake: Arc<Wake>,
    thread: Option<JoinHandle<()>>,
}

impl Producer {
    /// Starts producing on `chain`: `block_time` seconds apart, or (0) as soon as
    /// transactions are pending (the chain wakes it). The dev controls change both
    /// later (`anvil_setIntervalMining`, `evm_setAutomine`).
    pub fn start(chain: Arc<Chain>, block_time: u64) -> std::io::Result<Self> {
        let wake = chain.wake().clone();
        let w = wake.clone();
        let _ = chain.set_dev_controls(|c| {
            c.block_time = block_time;
            Ok(())
        });
        let thread = std::thread::Builder::new()
            .name("molt-producer".into())
            .spawn(move || run(&chain, &w))?;
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

fn run(chain: &Chain, wake: &Wake) {
    while !wake.stopped() {
        let controls = chain.dev_controls();
        let block_time = controls.block_time;
        // With a block time, look twice a second whether it has passed; otherwise sleep
        // until a transaction arrives (and look now and then in case one was missed).
        let idle = if block_time > 0 {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(1)
        };
        if block_time == 0 && !controls.automine {
            wake.wait(idle);
            continue;
        }
        match chain.tick(clock::now(), block_time) {
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
