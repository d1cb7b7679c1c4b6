//! The chain: genesis, the committed head, transaction submission, calls on the head
//! state and the modules in force at each height.
//!
//! [`Chain`] owns the database, the pool and the head. How a block gets onto it —
//! propose, verify, commit — is in the `phases` module; dev edits and snapshots are
//! in `dev`; re-running history is in `replay`. A restart resumes from
//! the last committed block.

use std::collections::HashMap;
use std::sync::Arc;

use crate::sync::Mutex;
use alloy_eips::eip1559::BaseFeeParams;
use alloy_primitives::{Address, B256, Bytes, U256};
use ed25519_dalek::SigningKey;
use molt_abi::consensus::{ValidatorEntry, ValidatorsInput};
use molt_abi::execution::{
    AccountChange, AccountInfo, BlockEnv, BlockInput, CallInput, CallOutput,
};
use molt_abi::rpc::{CallAt, CallRequest, EnvOverride, set};

use crate::block::{Executed, Finality, assemble, has_set_code};
use crate::dev::{DevControls, Impersonating};
use crate::error::ChainError;
use crate::events::{ChainEvent, Events};
use crate::pool::{Pool, PoolError, PoolTx, Rules};
use crate::upgrades::{self, ModuleStore, Schedule, UPGRADE_ADDRESS, Upgrade};
use crate::wake::Wake;
use molt_runtime::{Consensus, Executor};
use molt_storage::state::{Overridden, StateView};
use molt_storage::{Db, SealedBlock, StorageError};

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
    /// at genesis (see [`crate::upgrades`]).
    pub upgrade_authorities: Vec<Address>,
    /// The ed25519 keys execution and consensus modules must be signed with: written
    /// into the upgrade contract's storage at genesis.
    pub module_publishers: Vec<[u8; 32]>,
    /// Whether the chain takes impersonated transactions (a dev chain's
    /// `anvil_impersonateAccount`; see `molt_abi::execution::impersonation`). Never on
    /// a network: there anyone could send as anyone.
    pub impersonation: bool,
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
            impersonation: true,
        }
    }
}

/// The modules a chain runs: the built-in execution and consensus modules, in force
/// from genesis, and the store that holds the versions upgrade announcements name.
pub struct Modules {
    /// The execution module from genesis.
    pub execution: Executor,
    /// The consensus module from genesis.
    pub consensus: Consensus,
    /// Where announced modules are found ([`upgrades::NoStagedModules`] for none).
    pub store: Arc<dyn ModuleStore>,
}

/// The chain.
pub struct Chain {
    pub(crate) db: Db,
    /// The execution and consensus modules in force at each height: block `h` is
    /// executed and decided by them, whenever that happens.
    pub(crate) schedule: Schedule,
    pub(crate) config: ChainConfig,
    pub(crate) seal_key: SigningKey,
    pub(crate) pool: Mutex<Pool>,
    pub(crate) head: Mutex<SealedBlock>,
    /// Held while the chain's state changes (a block, a revert, a dev edit), so that
    /// they happen one at a time.
    pub(crate) write: Mutex<()>,
    /// Blocks proposed or verified on the current head, by hash, until one of them is
    /// committed or the head moves.
    pub(crate) executed: Mutex<HashMap<B256, Executed>>,
    /// Dev edits of the state outside blocks (`anvil_setBalance`), oldest first, so a
    /// snapshot can undo them.
    pub(crate) dev_edits: Mutex<Vec<DevEdit>>,
    /// Notified whenever a transaction is pooled.
    wake: Arc<Wake>,
    /// Told of every block committed and every transaction pooled.
    events: Arc<Events>,
    /// A dev node's clock, next-block settings and sealing mode.
    pub(crate) controls: Mutex<DevControls>,
    /// Who may send without a key, where the chain takes impersonated transactions.
    pub(crate) impersonating: Mutex<Impersonating>,
    /// Where transactions submitted here are also sent: a network node's relay to
    /// its peers' pools.
    relay: std::sync::OnceLock<std::sync::mpsc::Sender<Bytes>>,
    /// Block build, execution, state-root, verify and commit times.
    pub(crate) metrics: crate::metrics::ChainMetrics,
    /// A fault to inject into a block's commit (`--chaos.commit`).
    pub(crate) commit_fault: Mutex<Option<CommitFault>>,
}

/// A fault injected into the commit of block `height` (`molt dev --chaos.commit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitFault {
    /// The database write fails (once); the block is not committed, and the next
    /// attempt goes through.
    Fail {
        /// The block whose commit fails.
        height: u64,
    },
    /// The process aborts after the block is written, before it is flushed and before
    /// the head moves — a crash at the worst moment of a commit.
    Abort {
        /// The block whose commit aborts.
        height: u64,
    },
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
    /// empty, or resuming from its head and reading the upgrade announcements of its
    /// history (after a restart, block h is re-executed with the versions in force at
    /// h).
    pub fn open(
        db: Db,
        modules: Modules,
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
            None => genesis(&db, &config, &seal_key, alloc)?,
        };
        let chain = Chain {
            schedule: Schedule::new(modules.execution, modules.consensus, modules.store),
            config,
            seal_key,
            pool: Mutex::new(Pool::new()),
            dev_edits: Mutex::new(Vec::new()),
            executed: Mutex::new(HashMap::new()),
            wake: Arc::new(Wake::default()),
            events: Arc::new(Events::default()),
            controls: Mutex::new(DevControls::default()),
            impersonating: Mutex::new(Impersonating::default()),
            head: Mutex::new(head),
            write: Mutex::new(()),
            relay: std::sync::OnceLock::new(),
            metrics: Default::default(),
            commit_fault: Mutex::new(None),
            db,
        };
        for number in 1..=chain.head_number() {
            if chain
                .db
                .header(number)?
                .is_some_and(|h| upgrades::may_announce(&h))
            {
                for a in upgrades::announcements(&load_block(&chain.db, number)?) {
                    chain.schedule.announce(a, false);
                }
            }
        }
        Ok(chain)
    }

    /// The upgrade announcements on the chain, in order, with their modules (or why
    /// this node cannot run them yet).
    pub fn upgrades(&self) -> Vec<Upgrade> {
        self.schedule.upgrades()
    }

    /// Whether `who` may schedule module upgrades (the upgrade contract's storage).
    pub fn is_upgrade_authority(&self, who: &Address) -> Result<bool, ChainError> {
        Ok(!self
            .db
            .storage(&UPGRADE_ADDRESS, &upgrades::authority_slot(who))?
            .is_zero())
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
        self.head.lock().clone()
    }

    /// The last committed block's header and hash, without copying its transactions
    /// and receipts.
    pub fn head_header(&self) -> (alloy_consensus::Header, B256) {
        let head = self.head.lock();
        (head.header.clone(), head.hash)
    }

    /// The number of the last committed block, without copying the block.
    pub fn head_number(&self) -> u64 {
        self.head.lock().header.number
    }

    /// The environment the next block will execute in.
    pub fn next_env(&self, timestamp: u64) -> BlockEnv {
        let head = self.head.lock();
        let base_fee = match self.controls.lock().next_base_fee {
            Some(base_fee) => base_fee,
            None => self.base_fee_after(&head.header),
        };
        BlockEnv {
            spec: self.config.spec.clone(),
            chain_id: self.config.chain_id,
            number: head.header.number + 1,
            timestamp: timestamp.max(head.header.timestamp + 1),
            coinbase: self
                .controls
                .lock()
                .coinbase
                .unwrap_or(self.config.coinbase),
            gas_limit: self.config.gas_limit,
            base_fee,
            prevrandao: head.hash,
            ..BlockEnv::default()
        }
    }

    /// The base fee of the child of `parent` (EIP-1559; the chain's initial base fee
    /// after a parent without one).
    pub(crate) fn base_fee_after(&self, parent: &alloy_consensus::Header) -> u64 {
        parent
            .next_block_base_fee(BaseFeeParams::ethereum())
            .unwrap_or(self.config.initial_base_fee)
    }

    /// Checks and pools a raw transaction from a client; returns its hash. The block
    /// producer is woken ([`wake`](Self::wake)) and the relay, if any, passes it on.
    pub fn submit(&self, raw: Bytes) -> Result<B256, PoolError> {
        let hash = self.submit_relayed(raw.clone())?;
        if let Some(relay) = self.relay.get() {
            let _ = relay.send(raw);
        }
        Ok(hash)
    }

    /// Sends every transaction clients submit from now on to `relay` too (once per
    /// chain; `false` if a relay was already set).
    pub fn relay_to(&self, relay: std::sync::mpsc::Sender<Bytes>) -> bool {
        self.relay.set(relay).is_ok()
    }

    /// Checks and pools a raw transaction a peer relayed (it is not passed on again);
    /// returns its hash.
    pub fn submit_relayed(&self, raw: Bytes) -> Result<B256, PoolError> {
        let env = self.next_env(0);
        let rules = Rules {
            chain_id: self.config.chain_id,
            base_fee: env.base_fee,
            block_gas_limit: env.gas_limit,
            set_code: has_set_code(&self.config.spec),
        };
        let impersonating = |sender: &Address| {
            self.config.impersonation && self.impersonating.lock().allows(sender)
        };
        let hash = self.pool.lock().add(raw, &self.db, rules, &impersonating)?;
        self.wake.notify();
        self.events.emit(ChainEvent::Pending(hash));
        Ok(hash)
    }

    /// What the block producer waits on: notified whenever a transaction is pooled.
    pub fn wake(&self) -> &Arc<Wake> {
        &self.wake
    }

    /// Where to listen for committed blocks and pooled transactions.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// The pooled (pending) transaction with this hash.
    pub fn pooled(&self, hash: &B256) -> Option<PoolTx> {
        self.pool.lock().get(hash).cloned()
    }

    /// Number of pooled transactions.
    pub fn pool_len(&self) -> usize {
        self.pool.lock().len()
    }

    /// The next nonce of `sender`, counting its pooled transactions.
    pub fn pending_nonce(&self, sender: &Address) -> Result<u64, ChainError> {
        let state_nonce = self
            .db
            .account(sender)?
            .map(|a| a.nonce)
            .unwrap_or_default();
        Ok(self.pool.lock().pending_nonce(sender, state_nonce))
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
        let executor = self.executor_at(env.number)?;
        call_in(&executor, env, Arc::new(self.db.clone()), request, limits)
    }

    /// [`call_limited`](Self::call_limited) on the state after block `call.block`, in
    /// that block's environment, with the execution module in force there — `eth_call`
    /// at a past block — and with `call`'s state and environment overrides laid over
    /// them. An error if the node does not keep that block's state.
    pub fn call_at(&self, call: &CallAt, limits: &CallLimits) -> Result<CallOutput, ChainError> {
        let (executor, state, input) = self.message_at(call, limits)?;
        Ok(executor.execute_call_until(state, &input, limits.timeout)?)
    }

    /// What [`call_at`](Self::call_at) runs: the module in force at the block, the
    /// state after it with the call's overrides, and the message in its environment.
    pub(crate) fn message_at(
        &self,
        call: &CallAt,
        limits: &CallLimits,
    ) -> Result<(Executor, Arc<dyn StateView>, CallInput), ChainError> {
        let number = call.block;
        let state = self.db.state_at(number)?;
        let header = self.kept_header(number)?;
        let mut env = crate::block::env_of(&self.config.spec, self.config.chain_id, &header);
        override_env(&mut env, &call.env);
        let state: Arc<dyn StateView> = match call.accounts.is_empty() {
            true => Arc::new(state),
            false => Arc::new(Overridden::new(state, &call.accounts)),
        };
        let input = call_input(env, &call.request, limits);
        Ok((self.executor_at(number)?, state, input))
    }

    /// The header of block `number`, which the node keeps.
    pub(crate) fn kept_header(&self, number: u64) -> Result<alloy_consensus::Header, ChainError> {
        self.db.header(number)?.ok_or_else(|| {
            ChainError::Storage(StorageError::Corrupt {
                key: format!("block {number}"),
                reason: "a kept block without a header".into(),
            })
        })
    }

    /// The execution module's input for transactions `txs` in `env`, under this
    /// chain's rules.
    pub(crate) fn block_input(&self, env: BlockEnv, txs: Vec<Bytes>) -> BlockInput {
        BlockInput {
            env,
            txs,
            impersonation: self.config.impersonation.then_some(true),
        }
    }

    /// Injects `fault` into a coming commit (or clears it).
    pub fn set_commit_fault(&self, fault: Option<CommitFault>) {
        *self.commit_fault.lock() = fault;
    }

    /// What the chain's work costs, for Prometheus.
    pub fn metrics(&self) -> &crate::metrics::ChainMetrics {
        &self.metrics
    }

    /// The execution module that executes block `height`; an error if an upgrade in
    /// force there names a module this node cannot run.
    pub fn executor_at(&self, height: u64) -> Result<Executor, ChainError> {
        Ok(self.schedule.executor_at(height)?)
    }

    /// The validators of block `height`, as the consensus module in force at that
    /// height decides them from `genesis` (the network's first set); `genesis` itself
    /// if the module does not say.
    pub fn validators_at(
        &self,
        height: u64,
        genesis: &[ValidatorEntry],
    ) -> Result<Vec<ValidatorEntry>, ChainError> {
        let input = ValidatorsInput {
            height,
            genesis: genesis.to_vec(),
        };
        Ok(match self.consensus_at(height)?.validators(&input)? {
            Some(set) => set.validators,
            None => genesis.to_vec(),
        })
    }

    /// The consensus module that decides (seals and validates) block `height`.
    pub fn consensus_at(&self, height: u64) -> Result<Consensus, ChainError> {
        Ok(self.schedule.consensus_at(height)?)
    }

    /// Removes every block above `number`, undoing their state; pooled transactions
    /// that are still valid stay pooled. `false` if `number` is not below the head.
    pub fn revert_to(&self, number: u64) -> Result<bool, ChainError> {
        let _write = self.write.lock();
        if number >= self.head_number() {
            return Ok(false);
        }
        self.revert_blocks(number)?;
        self.pool.lock().prune(&self.db)?;
        Ok(true)
    }

    /// Removes the blocks above `number` (the caller holds the write lock).
    pub(crate) fn revert_blocks(&self, number: u64) -> Result<(), ChainError> {
        self.db.revert_to(number)?;
        self.schedule.revert_to(number);
        *self.head.lock() = load_block(&self.db, number)?;
        self.executed.lock().clear();
        Ok(())
    }
}

/// A dev edit of the state outside blocks (`anvil_setBalance`, `anvil_setStorageAt`):
/// at which head it was made, and what it changed as it was before, so a snapshot can
/// undo it.
#[derive(Clone, Debug)]
pub(crate) struct DevEdit {
    pub(crate) head: u64,
    pub(crate) address: Address,
    pub(crate) before: Before,
}

/// What a dev edit changed, as it was.
#[derive(Clone, Debug)]
pub(crate) enum Before {
    /// The account's fields (`None`: absent).
    Account(Option<AccountInfo>),
    /// A slot's value and the account's storage root.
    Slot {
        slot: U256,
        value: U256,
        storage_root: B256,
    },
}

/// The limits of a call made for a client (geth's `--rpc.gascap`, `--rpc.evmtimeout`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallLimits {
    /// Most gas a call may use (0: the block's gas limit).
    pub gas_cap: u64,
    /// Longest a call may run (`None`: no limit).
    pub timeout: Option<std::time::Duration>,
}

/// Replaces the fields of `env` that `o` sets.
fn override_env(env: &mut BlockEnv, o: &EnvOverride) {
    let has = |bit: u8| o.set & bit != 0;
    if has(set::NUMBER) {
        env.number = o.number;
    }
    if has(set::TIMESTAMP) {
        env.timestamp = o.timestamp;
    }
    if has(set::GAS_LIMIT) {
        env.gas_limit = o.gas_limit;
    }
    if has(set::COINBASE) {
        env.coinbase = o.coinbase;
    }
    if has(set::PREVRANDAO) {
        env.prevrandao = o.prevrandao;
    }
    if has(set::BASE_FEE) {
        env.base_fee = o.base_fee;
    }
}

/// Executes `request` with `executor` on `state` in `env`, within `limits`.
fn call_in(
    executor: &Executor,
    env: BlockEnv,
    state: Arc<dyn StateView>,
    request: &CallRequest,
    limits: &CallLimits,
) -> Result<CallOutput, ChainError> {
    let input = call_input(env, request, limits);
    Ok(executor.execute_call_until(state, &input, limits.timeout)?)
}

/// The execution module's input for `request` in `env`, its gas within `limits`.
fn call_input(env: BlockEnv, request: &CallRequest, limits: &CallLimits) -> CallInput {
    let gas_limit = match request.gas_limit {
        0 => env.gas_limit,
        g => g,
    };
    CallInput {
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
    }
}

/// Creates block 0 in an empty `db`: the funded accounts of `alloc` and the upgrade
/// contract, sealed with `seal_key`.
fn genesis(
    db: &Db,
    config: &ChainConfig,
    seal_key: &SigningKey,
    alloc: &[(Address, U256)],
) -> Result<SealedBlock, ChainError> {
    db.set_spec(&config.spec)?;
    let (upgrades, upgrades_code) =
        upgrades::genesis_account(&config.upgrade_authorities, &config.module_publishers);
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
    let update = db.state_update(accounts, vec![upgrades_code])?;
    let genesis = assemble(
        B256::ZERO,
        &env,
        Default::default(),
        Vec::new(),
        0,
        update.root,
    );
    let seal = Finality::sealed_by(seal_key, &genesis.hash);
    db.commit_block(&genesis, &seal.to_bytes(), &update)?;
    Ok(genesis)
}

/// Block `number` as stored.
pub(crate) fn load_block(db: &Db, number: u64) -> Result<SealedBlock, ChainError> {
    let missing = |what: &str| {
        ChainError::Storage(StorageError::Corrupt {
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
