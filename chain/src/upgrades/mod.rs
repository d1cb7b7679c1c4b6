//! On-chain module upgrades: the system contract that announces them, and the schedule
//! the chain derives from its announcements.
//!
//! `execution` and `consensus` modules change only at a block height written on the
//! chain, so that block h is executed and decided by the same code on every node and at
//! every re-execution. An authority named in genesis calls
//! `schedule(bytes32 digest, uint64 height)` on [`UPGRADE_ADDRESS`], a contract placed
//! in genesis (`MoltUpgrades.sol`, beside this file); it refuses other senders and
//! heights not above the current block, and emits `Scheduled(digest, height, by)`.
//! Every node reads those events from the blocks it commits (and, after a restart, from
//! its history) and runs the signed package with that SHA-256 digest from `height` on.
//! The contract also names, in its `publisher` mapping, the ed25519 keys such packages
//! must be signed with ([`is_publisher`]).
//!
//! The package itself travels outside the chain (an execution module is ~2 MB; a block
//! carries 30 M gas): a node must have it staged, verified and loaded by its
//! [`ModuleStore`] before the chain reaches `height`, or it stops there and says which
//! module it is missing. This module knows nothing of files or signature checks — the
//! store does.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use molt_abi::Kind;
use molt_abi::execution::{AccountChange, AccountInfo, NewCode, StorageChange};
use molt_upgrade_proxy::router::VersionInfo;

use crate::sync::RwLock;
use molt_runtime::{Consensus, Executor, LoadedModule};
use molt_storage::SealedBlock;

/// Where the upgrade contract lives from genesis: "molt" in the last four bytes.
pub const UPGRADE_ADDRESS: Address = address!("000000000000000000000000000000006d6f6c74");

/// Runtime code of `MoltUpgrades.sol` (solc 0.8.30, optimizer 200 runs, Cancun, no
/// metadata), as hex; `host/tests/e2e.rs` recompiles the source and compares.
pub const RUNTIME_CODE_HEX: &str = include_str!("MoltUpgrades.runtime.hex");

/// The contract's Solidity source.
pub const SOURCE: &str = include_str!("MoltUpgrades.sol");

/// The signature of the one function authorities call.
pub const SCHEDULE_SIGNATURE: &str = "schedule(bytes32,uint64)";

/// The signature of the event the chain reads.
const SCHEDULED_EVENT: &str = "Scheduled(bytes32,uint64,address)";

/// The upgrade contract's genesis account: its code, `authority[a] = true` for each
/// authority and `publisher[k] = true` for each module publisher's ed25519 key.
pub fn genesis_account(
    authorities: &[Address],
    publishers: &[[u8; 32]],
) -> (AccountChange, NewCode) {
    let code: Bytes = hex::decode(RUNTIME_CODE_HEX.trim())
        .expect("the committed runtime code is hex")
        .into();
    let hash = keccak256(&code);
    let mut storage: Vec<StorageChange> = authorities
        .iter()
        .map(|a| StorageChange {
            slot: authority_slot(a),
            value: U256::from(1),
        })
        .chain(publishers.iter().map(|k| StorageChange {
            slot: publisher_slot(k),
            value: U256::from(1),
        }))
        .collect();
    storage.sort_by_key(|s| s.slot);
    storage.dedup_by_key(|s| s.slot);
    let account = AccountChange {
        address: UPGRADE_ADDRESS,
        info: AccountInfo {
            nonce: 1,
            balance: U256::ZERO,
            code_hash: hash,
        },
        storage_wiped: true,
        storage,
        ..AccountChange::default()
    };
    (account, NewCode { hash, code })
}

/// The storage slot of `authority[who]` (a `mapping(address => bool)` at slot 0).
pub fn authority_slot(who: &Address) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(who.as_slice());
    U256::from_be_bytes(keccak256(preimage).0)
}

/// The storage slot of `publisher[key]` (a `mapping(bytes32 => bool)` at slot 1).
pub fn publisher_slot(key: &[u8; 32]) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(key);
    preimage[63] = 1;
    U256::from_be_bytes(keccak256(preimage).0)
}

/// Whether `key` may sign execution and consensus modules, per the upgrade contract in
/// `state`.
pub fn is_publisher(
    state: &dyn molt_storage::state::StateView,
    key: &[u8; 32],
) -> Result<bool, molt_storage::state::StateError> {
    Ok(!state
        .storage(&UPGRADE_ADDRESS, &publisher_slot(key))?
        .is_zero())
}

/// Calldata of `schedule(digest, height)`.
pub fn schedule_calldata(digest: &B256, height: u64) -> Bytes {
    let mut data = keccak256(SCHEDULE_SIGNATURE)[..4].to_vec();
    data.extend_from_slice(digest.as_slice());
    data.extend_from_slice(&U256::from(height).to_be_bytes::<32>());
    data.into()
}

/// One `Scheduled` event: `digest`'s module runs from `height` on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// SHA-256 of the signed package.
    pub digest: B256,
    /// The first block it handles.
    pub height: u64,
    /// The authority that sent it.
    pub authority: Address,
    /// The block that carries the announcement.
    pub block: u64,
    /// The announcing transaction.
    pub tx: B256,
}

/// Whether a block with this header may carry announcements (its logs bloom has the
/// upgrade contract): a cheap filter before reading its receipts.
pub fn may_announce(header: &alloy_consensus::Header) -> bool {
    header
        .logs_bloom
        .contains_input(alloy_primitives::BloomInput::Raw(
            UPGRADE_ADDRESS.as_slice(),
        ))
}

/// The announcements in `block`'s receipts, in order.
pub fn announcements(block: &SealedBlock) -> Vec<Announcement> {
    if !may_announce(&block.header) {
        return Vec::new();
    }
    let topic = keccak256(SCHEDULED_EVENT);
    let mut out = Vec::new();
    for (raw, receipt) in block.transactions.iter().zip(&block.receipts) {
        for log in receipt.logs() {
            let topics = log.data.topics();
            if log.address != UPGRADE_ADDRESS || topics.len() != 3 || topics[0] != topic {
                continue;
            }
            let Ok(height) = u64::try_from(U256::from_be_slice(log.data.data.as_ref())) else {
                continue;
            };
            out.push(Announcement {
                digest: topics[1],
                height,
                authority: Address::from_word(topics[2]),
                block: block.header.number,
                tx: keccak256(raw),
            });
        }
    }
    out
}

/// A staged module, verified and loaded, ready to take over its slot.
#[derive(Clone, Debug)]
pub enum Staged {
    /// An execution module.
    Execution(Executor, VersionInfo),
    /// A consensus module.
    Consensus(Consensus, VersionInfo),
}

impl Staged {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Staged::Execution(..) => Kind::Execution,
            Staged::Consensus(..) => Kind::Consensus,
        }
    }

    /// The WebAssembly module, unless it is a native twin.
    pub fn wasm(&self) -> Option<&LoadedModule> {
        match self {
            Staged::Execution(e, _) => e.wasm(),
            Staged::Consensus(c, _) => c.wasm(),
        }
    }

    /// Its name, version and digest.
    pub fn info(&self) -> &VersionInfo {
        match self {
            Staged::Execution(_, i) | Staged::Consensus(_, i) => i,
        }
    }
}

/// Why this node cannot run the module an announcement names (yet): words for the
/// operator, who can fix it by staging the right package.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// No package with that digest is staged here.
    #[error("its package is not staged here")]
    NotStaged,
    /// The staged package could not be read.
    #[error("reading its package: {0}")]
    Unreadable(String),
    /// The file stored under that digest holds another package.
    #[error("the package stored as {0} has another digest")]
    OtherDigest(String),
    /// The package is refused: not signed by a publisher named in genesis, of the
    /// wrong kind, not loadable.
    #[error("{0}")]
    Refused(String),
    /// The node keeps no staged modules at all.
    #[error("this node keeps no staged modules")]
    NoStore,
}

/// Where the chain finds the module an announcement names.
pub trait ModuleStore: Send + Sync {
    /// The staged package with this SHA-256 digest, verified and loaded, or why not.
    fn load(&self, digest: &B256) -> Result<Staged, Unavailable>;

    /// Hears of an announcement in a newly committed block, and what came of loading
    /// its module (not called for the history read at start).
    fn announced(&self, _upgrade: &Upgrade) {}
}

/// A store that holds no module: a chain that runs only its genesis modules (a test,
/// a tool); an announcement stops it at its height.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoStagedModules;

impl ModuleStore for NoStagedModules {
    fn load(&self, _digest: &B256) -> Result<Staged, Unavailable> {
        Err(Unavailable::NoStore)
    }
}

/// An announcement and, once the store produced it, its module.
#[derive(Clone, Debug)]
pub struct Upgrade {
    /// What the chain says.
    pub announcement: Announcement,
    /// The module, or why this node cannot run it yet.
    pub module: Result<Staged, Unavailable>,
}

/// The modules in force at each height: the built-ins from genesis, then every
/// announcement in chain order.
pub(crate) struct Schedule {
    execution: Executor,
    consensus: Consensus,
    store: Arc<dyn ModuleStore>,
    upgrades: RwLock<Vec<Upgrade>>,
}

/// A height this node cannot decide yet: the module announced for it is not staged.
#[derive(Debug, thiserror::Error)]
#[error(
    "block {height} needs module {digest} (scheduled at block {from} by transaction \
     {tx}), which this node cannot run: {reason}; stage it with `molt module stage FILE`"
)]
pub struct Missing {
    /// The height asked about.
    pub height: u64,
    /// The module's digest.
    pub digest: B256,
    /// Its activation height.
    pub from: u64,
    /// The announcing transaction.
    pub tx: B256,
    /// What the store said.
    pub reason: Unavailable,
}

impl Schedule {
    pub(crate) fn new(
        execution: Executor,
        consensus: Consensus,
        store: Arc<dyn ModuleStore>,
    ) -> Self {
        Schedule {
            execution,
            consensus,
            store,
            upgrades: RwLock::new(Vec::new()),
        }
    }

    /// Records an announcement, loading its module from the store if it can; `fresh`
    /// if it was just committed (rather than read from history).
    pub(crate) fn announce(&self, announcement: Announcement, fresh: bool) {
        let module = self.store.load(&announcement.digest);
        match &module {
            Ok(m) => tracing::info!(
                target: "molt::upgrade",
                height = announcement.height, kind = %m.kind(), module = %m.info().name,
                version = %m.info().version, tx = %announcement.tx, "module scheduled"
            ),
            Err(reason) => tracing::warn!(
                target: "molt::upgrade",
                height = announcement.height, digest = %announcement.digest,
                tx = %announcement.tx,
                "module scheduled that this node cannot run yet ({reason}); the chain stops \
                 at that height until it is staged"
            ),
        }
        let upgrade = Upgrade {
            announcement,
            module,
        };
        if fresh {
            self.store.announced(&upgrade);
        }
        self.upgrades.write().push(upgrade);
    }

    /// Forgets the announcements of blocks above `number` (they were reverted).
    pub(crate) fn revert_to(&self, number: u64) {
        self.upgrades
            .write()
            .retain(|u| u.announcement.block <= number);
    }

    /// Every announcement, in chain order.
    pub(crate) fn upgrades(&self) -> Vec<Upgrade> {
        self.upgrades.read().clone()
    }

    pub(crate) fn executor_at(&self, height: u64) -> Result<Executor, Missing> {
        Ok(match self.module_at(height, Kind::Execution)? {
            Some(Staged::Execution(e, _)) => e,
            _ => self.execution.clone(),
        })
    }

    pub(crate) fn consensus_at(&self, height: u64) -> Result<Consensus, Missing> {
        Ok(match self.module_at(height, Kind::Consensus)? {
            Some(Staged::Consensus(c, _)) => c,
            _ => self.consensus.clone(),
        })
    }

    /// The announced module of `kind` in force at `height`: the one with the greatest
    /// activation height ≤ `height` (the later announcement on a tie). Any announcement
    /// in force whose module this node cannot load makes the height undecidable, since
    /// its kind is unknown: the store is asked again each time, so staging the package
    /// lets the chain go on.
    fn module_at(&self, height: u64, kind: Kind) -> Result<Option<Staged>, Missing> {
        let upgrades = self.upgrades.read();
        if upgrades
            .iter()
            .any(|u| u.announcement.height <= height && u.module.is_err())
        {
            drop(upgrades);
            let mut upgrades = self.upgrades.write();
            for u in upgrades
                .iter_mut()
                .filter(|u| u.announcement.height <= height && u.module.is_err())
            {
                u.module = self.store.load(&u.announcement.digest);
                if let Err(reason) = &u.module {
                    return Err(Missing {
                        height,
                        digest: u.announcement.digest,
                        from: u.announcement.height,
                        tx: u.announcement.tx,
                        reason: reason.clone(),
                    });
                }
            }
            drop(upgrades);
            return self.module_at(height, kind);
        }
        let mut best: Option<(u64, &Staged)> = None;
        for u in upgrades.iter() {
            if let Ok(m) = &u.module
                && m.kind() == kind
                && u.announcement.height <= height
                && best.is_none_or(|(h, _)| u.announcement.height >= h)
            {
                best = Some((u.announcement.height, m));
            }
        }
        Ok(best.map(|(_, m)| m.clone()))
    }
}
