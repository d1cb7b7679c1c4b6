//! The chain driver: genesis, transaction submission, block production and commit.
//!
//! [`Chain`] owns the database, the pool and the head. Producing a block executes
//! the pool's pending transactions through the execution module, assembles the block,
//! seals its hash with the node's ed25519 key and commits everything in one batch;
//! a restart resumes from the last committed block.

use std::sync::{Arc, Mutex};

use alloy_eips::eip1559::BaseFeeParams;
use alloy_primitives::{Address, B256, Bytes, U256};
use ed25519_dalek::{Signer as _, SigningKey};
use molt_abi::execution::{
    AccountChange, AccountInfo, BlockEnv, CallInput, CallOutput, TxOutcome, reject,
};
use molt_abi::rpc::CallRequest;

use molt_abi::consensus::{Candidate, Head, ProposeInput, ValidateInput, Verdict};

use super::pool::{Pool, PoolError, PoolTx, Rules};
use super::upgrades::{self, ModuleStore, Schedule, UPGRADE_ADDRESS, Upgrade};
use super::wake::Wake;
use super::{ChainError, build_block};
use crate::consensus::Consensus;
use crate::execution::Executor;
use molt_storage::Db;
use molt_storage::SealedBlock;
use molt_storage::StorageError;

/// The chain's fixed parameters.
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Fork rules (`Cancun`, …).
    pub spec: String,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// Base fee of the first block after genesis.
    pub initial_base_fee: u64,
    /// Fee recipient of produced blocks.
    pub coinbase: Address,
    /// Genesis timestamp, seconds.
    pub genesis_timestamp: u64,
    /// Who may schedule module upgrades: written into the upgrade contract's storage
    /// at genesis (see [`super::upgrades`]).
    pub upgrade_authorities: Vec<Address>,
    /// The ed25519 keys execution and consensus modules must be signed with: written
    /// into the upgrade contract's storage at genesis.
    pub module_publishers: Vec<[u8; 32]>,
}

impl ChainConfig {
    /// anvil's defaults: chain 31337, 30 M gas, 1 gwei base fee, Prague rules (the
    /// fork anvil 1.7 runs and solc 0.8.30 compiles for).
    pub fn dev() -> Self {
        ChainConfig {
            chain_id: 31337,
            spec: "Prague".into(),
            gas_limit: 30_000_000,
            initial_base_fee: 1_000_000_000,
            coinbase: Address::ZERO,
            genesis_timestamp: 0,
            upgrade_authorities: Vec::new(),
            module_publishers: Vec::new(),
        }
    }
}

/// The chain.
pub struct Chain {
    db: Db,
    /// The execution and consensus modules in force at each height: block `h` is
    /// executed and decided by them, whenever that happens.
    schedule: Schedule,
    config: ChainConfig,
    seal_key: SigningKey,
    pool: Mutex<Pool>,
    head: Mutex<SealedBlock>,
    /// Held while the chain's state changes (a block, a revert, a dev edit), so that
    /// they happen one at a time.
    write: Mutex<()>,
    /// Dev edits of the state outside blocks (`anvil_setBalance`), oldest first, so a
    /// snapshot can undo them.
    dev_edits: Mutex<Vec<DevEdit>>,
    /// Notified whenever a transaction is pooled.
    wake: Arc<Wake>,
}

/// A dev edit: at which head it was made, and the account as it was before.
#[derive(Clone, Debug)]
struct DevEdit {
    head: u64,
    address: Address,
    before: Option<AccountInfo>,
}

/// What `evm_snapshot` remembers: the head, how many dev edits had been made, and the
/// pool.
#[derive(Clone, Debug)]
pub struct DevSnapshot {
    head: u64,
    edits: usize,
    pool: Pool,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Chain {
    /// Opens the chain in `db`, creating genesis with `alloc` if the database is
    /// empty, or resuming from its head.
    pub fn open(
        db: Db,
        executor: Executor,
        consensus: Consensus,
        config: ChainConfig,
        seal_key: SigningKey,
        alloc: &[(Address, U256)],
    ) -> Result<Chain, ChainError> {
        let mut config = config;
        let head = match db.head()? {
            Some(number) => {
                // A chain keeps the fork it was created with; chains from before the
                // fork was recorded ran Cancun.
                config.spec = db.spec()?.unwrap_or_else(|| "Cancun".into());
                load_block(&db, number)?
            }
            None => {
                db.set_spec(&config.spec)?;
                let (upgrades, upgrades_code) = super::upgrades::genesis_account(
                    &config.upgrade_authorities,
                    &config.module_publishers,
                );
                let mut accounts: Vec<AccountChange> = alloc
                    .iter()
                    .map(|(address, balance)| AccountChange {
                        address: *address,
                        info: AccountInfo {
                            nonce: 0,
                            balance: *balance,
                            code_hash: alloy_trie::KECCAK_EMPTY,
                        },
                        ..AccountChange::default()
                    })
                    .collect();
                accounts.push(upgrades);
                let codes = [upgrades_code];
                let env = BlockEnv {
                    spec: config.spec.clone(),
                    chain_id: config.chain_id,
                    number: 0,
                    timestamp: config.genesis_timestamp,
                    coinbase: config.coinbase,
                    gas_limit: config.gas_limit,
                    base_fee: config.initial_base_fee,
                    ..BlockEnv::default()
                };
                let mut post = db.snapshot()?;
                post.apply(&accounts, &codes);
                let genesis = super::assemble(
                    None,
                    &env,
                    Default::default(),
                    Vec::new(),
                    0,
                    post.state_root(),
                );
                let seal = seal(&seal_key, &genesis.hash);
                db.commit_block(&genesis, &seal, &accounts, &codes)?;
                genesis
            }
        };
        Ok(Chain {
            db,
            schedule: Schedule::new(executor, consensus),
            config,
            seal_key,
            pool: Mutex::new(Pool::new()),
            dev_edits: Mutex::new(Vec::new()),
            wake: Arc::new(Wake::default()),
            head: Mutex::new(head),
            write: Mutex::new(()),
        })
    }

    /// Lets the chain run the modules its upgrade announcements name, from `store`,
    /// and reads the announcements of its history (after a restart, block h is
    /// re-executed with the versions in force at h).
    pub fn with_module_store(mut self, store: Arc<dyn ModuleStore>) -> Result<Self, ChainError> {
        self.schedule.set_store(store);
        let head = self.head_number();
        for number in 1..=head {
            if self
                .db
                .header(number)?
                .is_some_and(|h| upgrades::may_announce(&h))
            {
                for a in upgrades::announcements(&load_block(&self.db, number)?) {
                    self.schedule.announce(a, false);
                }
            }
        }
        Ok(self)
    }

    /// The upgrade announcements on the chain, in order, with their modules (or why
    /// this node cannot run them yet).
    pub fn upgrades(&self) -> Vec<Upgrade> {
        self.schedule.upgrades()
    }

    /// Whether `who` may schedule module upgrades (the upgrade contract's storage).
    pub fn is_upgrade_authority(&self, who: &Address) -> Result<bool, ChainError> {
        use molt_storage::state::StateView;
        Ok(!self
            .db
            .storage(&UPGRADE_ADDRESS, &upgrades::authority_slot(who))?
            .is_zero())
    }

    /// The state before block `first` (after `first - 1`), rebuilt from the undo
    /// records while no block commits.
    pub fn state_before(&self, first: u64) -> Result<molt_storage::state::MemState, ChainError> {
        let _write = lock(&self.write);
        Ok(self.db.state_before(first)?)
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The chain's fixed parameters.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The last committed block.
    pub fn head(&self) -> SealedBlock {
        lock(&self.head).clone()
    }

    /// The number of the last committed block, without copying the block.
    pub fn head_number(&self) -> u64 {
        lock(&self.head).header.number
    }

    /// The environment the next block will execute in.
    pub fn next_env(&self, timestamp: u64) -> BlockEnv {
        let head = lock(&self.head);
        let base_fee = head
            .header
            .next_block_base_fee(BaseFeeParams::ethereum())
            .unwrap_or(self.config.initial_base_fee);
        BlockEnv {
            spec: self.config.spec.clone(),
            chain_id: self.config.chain_id,
            number: head.header.number + 1,
            timestamp: timestamp.max(head.header.timestamp + 1),
            coinbase: self.config.coinbase,
            gas_limit: self.config.gas_limit,
            base_fee,
            prevrandao: head.hash,
            ..BlockEnv::default()
        }
    }

    /// Checks and pools a raw transaction; returns its hash.
    pub fn submit(&self, raw: Bytes) -> Result<B256, PoolError> {
        let env = self.next_env(0);
        let rules = Rules {
            chain_id: self.config.chain_id,
            base_fee: env.base_fee,
            block_gas_limit: env.gas_limit,
            set_code: super::has_set_code(&self.config.spec),
        };
        let hash = lock(&self.pool).add(raw, &self.db, rules)?;
        self.wake.notify();
        Ok(hash)
    }

    /// What the block producer waits on: notified whenever a transaction is pooled.
    pub fn wake(&self) -> &Arc<Wake> {
        &self.wake
    }

    /// The pooled (pending) transaction with this hash.
    pub fn pooled(&self, hash: &B256) -> Option<PoolTx> {
        lock(&self.pool).get(hash).cloned()
    }

    /// Number of pooled transactions.
    pub fn pool_len(&self) -> usize {
        lock(&self.pool).len()
    }

    /// The next nonce of `sender`, counting its pooled transactions.
    pub fn pending_nonce(&self, sender: &Address) -> Result<u64, ChainError> {
        use molt_storage::state::StateView;
        let state_nonce = self
            .db
            .account(sender)?
            .map(|a| a.nonce)
            .unwrap_or_default();
        Ok(lock(&self.pool).pending_nonce(sender, state_nonce))
    }

    /// Executes a message on the head state in the next block's environment (at
    /// `now`), committing nothing. A `gas_limit` of 0 means the block's.
    pub fn call(&self, now: u64, request: &CallRequest) -> Result<CallOutput, ChainError> {
        self.call_limited(now, request, &CallLimits::default())
    }

    /// [`call`](Self::call) within `limits` (`--rpc.gascap`, `--rpc.evmtimeout`).
    pub fn call_limited(
        &self,
        now: u64,
        request: &CallRequest,
        limits: &CallLimits,
    ) -> Result<CallOutput, ChainError> {
        let env = self.next_env(now);
        let gas_limit = match request.gas_limit {
            0 => env.gas_limit,
            g => g,
        };
        let input = CallInput {
            gas_limit: match limits.gas_cap {
                0 => gas_limit,
                cap => gas_limit.min(cap),
            },
            env,
            from: request.from,
            to: request.to.clone(),
            value: request.value,
            data: request.data.clone(),
            gas_price: request.gas_price,
            access_list: request.access_list.clone(),
            authorization_list: request.authorization_list.clone(),
        };
        Ok(self.executor_at(input.env.number)?.execute_call_until(
            Arc::new(self.db.clone()),
            &input,
            limits.timeout,
        )?)
    }

    /// The execution module that executes block `height`; an error if an upgrade in
    /// force there names a module this node cannot run.
    pub fn executor_at(&self, height: u64) -> Result<Executor, ChainError> {
        Ok(self.schedule.executor_at(height)?)
    }

    /// The consensus module that decides (seals and validates) block `height`.
    pub fn consensus_at(&self, height: u64) -> Result<Consensus, ChainError> {
        Ok(self.schedule.consensus_at(height)?)
    }

    /// Removes every block above `number`, undoing their state; pooled transactions
    /// that are still valid stay pooled. `false` if `number` is not below the head.
    pub fn revert_to(&self, number: u64) -> Result<bool, ChainError> {
        let _write = lock(&self.write);
        if number >= self.head_number() {
            return Ok(false);
        }
        self.revert_blocks(number)?;
        lock(&self.pool).prune(&self.db)?;
        Ok(true)
    }

    /// Removes the blocks above `number` (the caller holds the write lock).
    fn revert_blocks(&self, number: u64) -> Result<(), ChainError> {
        self.db.revert_to(number)?;
        self.schedule.revert_to(number);
        *lock(&self.head) = load_block(&self.db, number)?;
        Ok(())
    }

    /// Sets an account's balance directly, outside any block (a dev helper; the next
    /// block's state root includes it).
    pub fn set_balance(&self, address: Address, balance: U256) -> Result<(), ChainError> {
        let _write = lock(&self.write);
        let before = self.db.set_balance(address, balance)?;
        lock(&self.dev_edits).push(DevEdit {
            head: self.head_number(),
            address,
            before,
        });
        Ok(())
    }

    /// Remembers the head, the dev edits so far and the pool (`evm_snapshot`).
    pub fn dev_snapshot(&self) -> DevSnapshot {
        let _write = lock(&self.write);
        DevSnapshot {
            head: self.head_number(),
            edits: lock(&self.dev_edits).len(),
            pool: lock(&self.pool).clone(),
        }
    }

    /// Returns to `snapshot` (`evm_revert`): the blocks after it are removed, the dev
    /// edits made since are undone (each after the blocks above its head), and the pool
    /// is what it was, less what no longer fits the state.
    pub fn revert_to_snapshot(&self, snapshot: &DevSnapshot) -> Result<(), ChainError> {
        let _write = lock(&self.write);
        let mut edits = lock(&self.dev_edits);
        while edits.len() > snapshot.edits {
            let Some(edit) = edits.pop() else { break };
            if edit.head < self.head_number() {
                self.revert_blocks(edit.head)?;
            }
            self.db
                .restore_account(edit.address, edit.before.as_ref())?;
        }
        if snapshot.head < self.head_number() {
            self.revert_blocks(snapshot.head)?;
        }
        let mut pool = lock(&self.pool);
        *pool = snapshot.pool.clone();
        pool.prune(&self.db)?;
        Ok(())
    }

    /// Asks the consensus module whether to seal now (`now` in unix seconds,
    /// `block_time` 0 for a block per transaction) and, if so, produces the block with
    /// the transactions it selected.
    pub fn tick(&self, now: u64, block_time: u64) -> Result<Option<SealedBlock>, ChainError> {
        let pending = lock(&self.pool).pending(&self.db)?;
        // The header only: the head's transactions and receipts are not needed here.
        let head = lock(&self.head).header.clone();
        let proposal = self.consensus_at(head.number + 1)?.propose(&ProposeInput {
            now,
            block_time,
            head: Head {
                number: head.number,
                timestamp: head.timestamp,
                gas_limit: self.config.gas_limit,
            },
            pending: pending
                .iter()
                .map(|t| Candidate {
                    hash: t.hash,
                    gas_limit: t.gas_limit,
                    tip: t.max_priority_fee,
                })
                .collect(),
        })?;
        if !proposal.seal {
            return Ok(None);
        }
        let selected = proposal
            .selected
            .iter()
            .filter_map(|i| pending.get(usize::try_from(*i).ok()?).cloned())
            .collect();
        self.produce(proposal.timestamp, selected).map(Some)
    }

    /// Whether block `number` is a valid child of its parent, sealed by this node's
    /// key, according to the consensus module.
    pub fn validate(&self, number: u64) -> Result<Verdict, ChainError> {
        self.validate_with(number, &self.consensus_at(number)?)
    }

    /// [`validate`](Self::validate) with a given consensus module.
    pub fn validate_with(&self, number: u64, consensus: &Consensus) -> Result<Verdict, ChainError> {
        let missing = || {
            ChainError::Storage(StorageError::Corrupt {
                key: format!("block {number}"),
                reason: "missing header or seal".into(),
            })
        };
        let parent = self
            .db
            .header(number.checked_sub(1).ok_or_else(missing)?)?
            .ok_or_else(missing)?;
        let header = self.db.header(number)?.ok_or_else(missing)?;
        let seal = self.db.seal(number)?.ok_or_else(missing)?;
        Ok(consensus.validate(&ValidateInput {
            parent: alloy_rlp::encode(&parent).into(),
            header: alloy_rlp::encode(&header).into(),
            seal,
            authorities: vec![Bytes::copy_from_slice(
                self.seal_key.verifying_key().as_bytes(),
            )],
        })?)
    }

    /// Produces, seals and commits the next block from all the pool's pending
    /// transactions (`evm_mine`). Transactions the block rejects leave the pool.
    pub fn mine(&self, timestamp: u64) -> Result<SealedBlock, ChainError> {
        let pending = lock(&self.pool).pending(&self.db)?;
        self.produce(timestamp, pending)
    }

    fn produce(&self, timestamp: u64, mut pending: Vec<PoolTx>) -> Result<SealedBlock, ChainError> {
        let _write = lock(&self.write);
        let env = self.next_env(timestamp);
        let parent = self.head();
        let executor = self.executor_at(env.number)?;
        let build = |txs: &[PoolTx]| {
            let candidates = txs.iter().map(|t| t.raw.clone()).collect();
            build_block(&self.db, &executor, Some(&parent), env.clone(), candidates)
        };
        // A transaction on which the module itself fails (a trap, out of fuel) must not
        // stop the chain: find it, drop it from the pool, and build without it.
        let (block, output) = loop {
            match build(&pending) {
                Err(ChainError::Exec(e)) if e.is_module_failure() && !pending.is_empty() => {
                    let culprit = first_failing(
                        pending.len(),
                        |n| matches!(build(&pending[..n]), Err(ChainError::Exec(e)) if e.is_module_failure()),
                    );
                    let Some(i) = culprit else {
                        return Err(ChainError::Exec(e));
                    };
                    let tx = pending.remove(i);
                    tracing::warn!(
                        target: "molt::pool",
                        hash = %tx.hash, sender = %tx.sender,
                        "dropped: the execution module fails on this transaction: {e}"
                    );
                    lock(&self.pool).remove(&tx.hash);
                }
                other => break other?,
            }
        };
        let seal = seal(&self.seal_key, &block.hash);
        self.db
            .commit_block(&block, &seal, &output.accounts, &output.codes)?;
        // Durable before anyone hears of it: readers see blocks up to the head only.
        self.db.flush()?;
        for a in upgrades::announcements(&block) {
            self.schedule.announce(a, true);
        }
        {
            let mut pool = lock(&self.pool);
            // Drop what the block found invalid; keep what only did not fit this block
            // (out of gas room, or behind such a transaction of the same sender).
            for (tx, outcome) in pending.iter().zip(&output.outcomes) {
                if let TxOutcome::Rejected(r) = outcome
                    && r.code != reject::BLOCK_GAS_EXHAUSTED
                    && r.code != reject::NONCE_TOO_HIGH
                {
                    tracing::warn!(
                        target: "molt::pool",
                        hash = %tx.hash, sender = %tx.sender, code = %r.code,
                        "dropped: {}", r.message
                    );
                    pool.remove(&tx.hash);
                }
            }
            pool.prune(&self.db)?;
        }
        *lock(&self.head) = block.clone();
        Ok(block)
    }
}

/// The limits of a call made for a client (geth's `--rpc.gascap`, `--rpc.evmtimeout`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallLimits {
    /// Most gas a call may use (0: the block's gas limit).
    pub gas_cap: u64,
    /// Longest a call may run (`None`: no limit).
    pub timeout: Option<std::time::Duration>,
}

/// The index of the transaction to blame when a block of `len` transactions fails:
/// the last one of the shortest failing prefix, where `fails(n)` says whether the block
/// of the first `n` fails (`fails(len)` must hold). `None` if the empty block fails
/// too: then no transaction is to blame.
fn first_failing(len: usize, fails: impl Fn(usize) -> bool) -> Option<usize> {
    if fails(0) {
        return None;
    }
    let (mut ok, mut bad) = (0, len);
    while bad - ok > 1 {
        let mid = ok + (bad - ok) / 2;
        if fails(mid) {
            bad = mid;
        } else {
            ok = mid;
        }
    }
    Some(bad - 1)
}

/// The node's seal of a block: ed25519 over the block hash, then the public key.
fn seal(key: &SigningKey, hash: &B256) -> Vec<u8> {
    let signature = key.sign(hash.as_slice());
    [
        signature.to_bytes().as_slice(),
        key.verifying_key().as_bytes(),
    ]
    .concat()
}

fn load_block(db: &Db, number: u64) -> Result<SealedBlock, ChainError> {
    let missing = |what: &str| {
        ChainError::Storage(molt_storage::StorageError::Corrupt {
            key: format!("block {number}"),
            reason: format!("head points at a block without {what}"),
        })
    };
    let header = db.header(number)?.ok_or_else(|| missing("a header"))?;
    Ok(SealedBlock {
        hash: header.hash_slow(),
        header,
        transactions: db
            .transactions(number)?
            .ok_or_else(|| missing("transactions"))?,
        senders: db.senders(number)?.ok_or_else(|| missing("senders"))?,
        receipts: db.receipts(number)?.ok_or_else(|| missing("receipts"))?,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a poisoned lock is usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod first_failing_tests {
    use super::first_failing;

    #[test]
    fn finds_the_transaction_whose_prefix_first_fails() {
        // Prefixes of 4 or more fail: transaction 3 is to blame.
        for len in 4..10 {
            assert_eq!(first_failing(len, |n| n >= 4), Some(3), "{len}");
        }
        assert_eq!(first_failing(1, |n| n >= 1), Some(0));
        // The empty block fails too: no transaction is to blame.
        assert_eq!(first_failing(5, |_| true), None);
    }
}
