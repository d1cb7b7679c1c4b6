//! The node's answers to the `rpc` kind's chain queries ([`molt_abi::rpc`]).
//!
//! Everything an rpc module may learn or do passes through [`Queries`]: reads of
//! blocks and state from the database, calls on the execution module, submissions to
//! the pool, signatures with the unlocked dev keys and, on a dev node, the dev helpers.
//! One method per operation ([`ChainQueries`]); the request and response bytes are
//! decoded and encoded by [`molt_abi::rpc::serve`], the codec the modules use too.

use std::sync::Arc;

use crate::sync::Mutex;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, U256};
use molt_abi::execution::CallOutput;
use molt_abi::rpc::{
    self, AccountAt, AccountOverride, AccountProof, AccountState, Answer, BlockQuery, BodyTx,
    CallAt, CallRequest, ChainInfo, ChainQueries, DevControl, FilterChanges, FilterPoll,
    MineRequest, NewFilter, NoArgs, NodeStatus, PoolContent, ProofQuery, QueryError, SetBalance,
    SignRequest, SlotProof, SlotValue, StorageAt, StorageQuery, TraceBlock, TraceCall, TxLocation,
};
use molt_runtime::services::ChainService;
use molt_storage::state::StateView;

use crate::chain::{CallLimits, Chain};
use crate::clock::now;
use crate::dev::{AccountEdit, DevSnapshot, Impersonating};
use crate::error::ChainError;
use crate::filters::Filters;
use crate::pool::PoolTx;
use crate::signer::Signer;

/// The chain as the rpc module sees it.
pub struct Queries {
    chain: Arc<Chain>,
    signers: Vec<Signer>,
    dev: bool,
    limits: CallLimits,
    /// `evm_snapshot` ids and what each remembers, oldest first.
    snapshots: Mutex<(u64, Vec<(u64, DevSnapshot)>)>,
    /// The filters modules installed.
    filters: Filters,
    /// The node's view of its peers; `None` for a node alone.
    network: Option<NetworkStatus>,
}

/// Where [`Queries`] learns how the node stands among its peers (`NODE_STATUS`): the
/// node's network, which the chain does not know.
pub type NetworkStatus = Arc<dyn Fn() -> NodeStatus + Send + Sync>;

impl std::fmt::Debug for Queries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queries")
            .field("dev", &self.dev)
            .finish_non_exhaustive()
    }
}

/// The failure of a query, in words for the JSON-RPC client.
fn fail(e: impl std::fmt::Display) -> QueryError {
    QueryError::Node(e.to_string())
}

impl Queries {
    /// Queries over `chain`, signing for `signers`; `dev` enables the dev helpers;
    /// calls (`eth_call`, gas estimation) run within `limits`.
    pub fn new(chain: Arc<Chain>, signers: Vec<Signer>, dev: bool, limits: CallLimits) -> Self {
        Queries {
            filters: Filters::new(chain.events()),
            chain,
            signers,
            dev,
            limits,
            snapshots: Mutex::new((0, Vec::new())),
            network: None,
        }
    }

    /// These queries on a node of a network: `NODE_STATUS` asks `status`.
    pub fn with_network(mut self, status: NetworkStatus) -> Self {
        self.network = Some(status);
        self
    }

    /// Whether a client may see block `number`: up to the head (committed and
    /// flushed), never one being written.
    fn visible(&self, number: u64) -> bool {
        number <= self.chain.head_number()
    }

    fn dev_only(&self) -> Answer<()> {
        match self.dev {
            true => Ok(()),
            false => Err(fail("dev methods are disabled on this node")),
        }
    }
}

impl ChainQueries for Queries {
    fn chain_info(&self) -> Answer<ChainInfo> {
        let head = self.chain.head_number();
        let env = self.chain.next_env(0);
        Ok(ChainInfo {
            chain_id: self.chain.config().chain_id,
            head,
            gas_limit: env.gas_limit,
            next_base_fee: env.base_fee,
            dev: self.dev,
        })
    }

    fn header(&self, q: &BlockQuery) -> Answer<Option<Bytes>> {
        let db = self.chain.db();
        let number = if q.by_hash {
            match db.block_number(&q.hash).map_err(fail)? {
                Some(n) => n,
                None => return Ok(None),
            }
        } else {
            q.number
        };
        if !self.visible(number) {
            return Ok(None);
        }
        Ok(db
            .header(number)
            .map_err(fail)?
            .map(|h| alloy_rlp::encode(&h).into()))
    }

    fn body(&self, number: u64) -> Answer<Option<Vec<BodyTx>>> {
        let db = self.chain.db();
        if !self.visible(number) {
            return Ok(None);
        }
        let (Some(txs), Some(senders)) = (
            db.transactions(number).map_err(fail)?,
            db.senders(number).map_err(fail)?,
        ) else {
            return Ok(None);
        };
        Ok(Some(
            txs.into_iter()
                .zip(senders)
                .map(|(raw, sender)| BodyTx { sender, raw })
                .collect(),
        ))
    }

    fn receipts(&self, number: u64) -> Answer<Option<Vec<Bytes>>> {
        if !self.visible(number) {
            return Ok(None);
        }
        Ok(self
            .chain
            .db()
            .receipts(number)
            .map_err(fail)?
            .map(|receipts| receipts.iter().map(|r| r.encoded_2718().into()).collect()))
    }

    fn tx_location(&self, hash: &B256) -> Answer<Option<TxLocation>> {
        Ok(
            match self.chain.db().transaction_location(hash).map_err(fail)? {
                Some((number, index)) if self.visible(number) => Some(TxLocation {
                    number,
                    index: index.into(),
                }),
                _ => None,
            },
        )
    }

    fn account(&self, address: &Address) -> Answer<AccountState> {
        account_state(self.chain.db(), address)
    }

    fn storage(&self, q: &StorageQuery) -> Answer<U256> {
        self.chain.db().storage(&q.address, &q.slot).map_err(fail)
    }

    fn code(&self, address: &Address) -> Answer<Bytes> {
        code_of(self.chain.db(), address)
    }

    fn call(&self, request: &CallRequest) -> Answer<CallOutput> {
        let out = self.chain.call_limited(now(), request, &self.limits);
        out.map_err(|e| self.call_failed(e))
    }

    fn send_raw(&self, raw: &Bytes) -> Answer<B256> {
        self.chain.submit(raw.clone()).map_err(fail)
    }

    fn pending_nonce(&self, address: &Address) -> Answer<u64> {
        self.chain.pending_nonce(address).map_err(fail)
    }

    fn accounts(&self) -> Answer<Vec<Address>> {
        let mut accounts: Vec<Address> = self.signers.iter().map(Signer::address).collect();
        // Impersonated accounts too, as anvil lists them (ethers' `getSigner` checks).
        for address in &self.chain.impersonating.lock().accounts {
            if !accounts.contains(address) {
                accounts.push(*address);
            }
        }
        Ok(accounts)
    }

    fn sign(&self, q: &SignRequest) -> Answer<Bytes> {
        let signer = self
            .signers
            .iter()
            .find(|s| s.address() == q.address)
            .ok_or_else(|| fail(format!("unknown account {}", q.address)))?;
        Ok(Bytes::from(signer.sign_hash(&q.hash).to_vec()))
    }

    fn mine(&self, q: &MineRequest) -> Answer<u64> {
        self.dev_only()?;
        let mut timestamp = match q.timestamp {
            0 => self.chain.dev_now(now()),
            t => t,
        };
        for _ in 0..q.blocks.max(1) {
            let block = self.chain.mine(timestamp).map_err(fail)?;
            timestamp = block.header.timestamp + 1;
        }
        Ok(self.chain.head_number())
    }

    fn snapshot(&self) -> Answer<u64> {
        self.dev_only()?;
        let mut snapshots = self.snapshots.lock();
        snapshots.0 += 1;
        let id = snapshots.0;
        snapshots.1.push((id, self.chain.dev_snapshot()));
        Ok(id)
    }

    fn revert(&self, id: u64) -> Answer<bool> {
        self.dev_only()?;
        let mut snapshots = self.snapshots.lock();
        let Some(i) = snapshots.1.iter().position(|(s, _)| *s == id) else {
            return Ok(false);
        };
        self.chain
            .revert_to_snapshot(&snapshots.1[i].1)
            .map_err(fail)?;
        snapshots.1.truncate(i);
        Ok(true)
    }

    fn set_balance(&self, q: &SetBalance) -> Answer<NoArgs> {
        self.dev_only()?;
        self.chain.set_balance(q.address, q.balance).map_err(fail)?;
        Ok(NoArgs {})
    }

    fn pool_tx(&self, hash: &B256) -> Answer<Option<BodyTx>> {
        Ok(self.chain.pooled(hash).map(|tx| BodyTx {
            sender: tx.sender,
            raw: tx.raw,
        }))
    }

    fn account_at(&self, q: &AccountAt) -> Answer<AccountState> {
        account_state(&self.state_at(q.block)?, &q.address)
    }

    fn storage_at(&self, q: &StorageAt) -> Answer<U256> {
        self.state_at(q.block)?
            .storage(&q.address, &q.slot)
            .map_err(fail)
    }

    fn code_at(&self, q: &AccountAt) -> Answer<Bytes> {
        code_of(&self.state_at(q.block)?, &q.address)
    }

    fn call_at(&self, r: &CallAt) -> Answer<CallOutput> {
        let out = self.chain.call_at(r, &self.limits);
        out.map_err(|e| self.call_failed(e))
    }

    fn trace_block(&self, t: &TraceBlock) -> Answer<Vec<Bytes>> {
        if !self.visible(t.block) {
            return Err(fail(ChainError::NoSuchBlock(t.block)));
        }
        let traces = self
            .chain
            .trace_block(t.block, t.index, &t.options, &self.limits);
        traces.map_err(|e| self.call_failed(e))
    }

    fn dump_state(&self) -> Answer<Vec<AccountOverride>> {
        self.dev_only()?;
        let mut accounts = Vec::new();
        let whole = rpc::set::BALANCE | rpc::set::NONCE | rpc::set::CODE | rpc::set::WHOLE_STORAGE;
        self.chain
            .db()
            .for_each_account(|address, info, code, storage| {
                accounts.push(AccountOverride {
                    address,
                    set: whole,
                    balance: info.balance,
                    nonce: info.nonce,
                    code,
                    storage: storage
                        .into_iter()
                        .map(|(slot, value)| SlotValue { slot, value })
                        .collect(),
                })
            })
            .map_err(fail)?;
        Ok(accounts)
    }

    fn node_status(&self) -> Answer<NodeStatus> {
        Ok(self
            .network
            .as_ref()
            .map(|status| status())
            .unwrap_or_default())
    }

    fn trace_call(&self, t: &TraceCall) -> Answer<Bytes> {
        let answer = self
            .chain
            .trace_call(&t.call, t.style, &t.options, &self.limits);
        answer.map_err(|e| self.call_failed(e))
    }

    fn proof(&self, q: &ProofQuery) -> Answer<AccountProof> {
        let p = self
            .chain
            .db()
            .proof(q.block, &q.address, &q.slots)
            .map_err(fail)?;
        let account = p.account.unwrap_or(alloy_trie::TrieAccount {
            code_hash: alloy_trie::KECCAK_EMPTY,
            ..Default::default()
        });
        Ok(AccountProof {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash,
            storage_root: account.storage_root,
            proof: p.proof,
            storage: p
                .storage
                .into_iter()
                .map(|(slot, value, proof)| SlotProof { slot, value, proof })
                .collect(),
        })
    }

    fn new_filter(&self, f: &NewFilter) -> Answer<u64> {
        let head = self.chain.head_number();
        self.filters
            .install(f.kind, f.criteria.clone(), f.start, head)
            .map_err(fail)
    }

    fn poll_filter(&self, p: &FilterPoll) -> Answer<FilterChanges> {
        let db = self.chain.db();
        let hash_of = |n: u64| match db.block_hash(n) {
            Ok(Some(hash)) => Ok(hash),
            Ok(None) => Err(fail(format!("block {n} is missing"))),
            Err(e) => Err(fail(e)),
        };
        self.filters
            .poll(p.id, p.advance, self.chain.head_number(), hash_of)?
            .map_err(fail)
    }

    fn uninstall_filter(&self, id: u64) -> Answer<bool> {
        Ok(self.filters.uninstall(id))
    }

    fn set_account(&self, a: &AccountOverride) -> Answer<NoArgs> {
        self.dev_only()?;
        if a.set & rpc::set::WHOLE_STORAGE != 0 {
            return Err(fail(
                "replacing an account's whole storage outside a block is not supported",
            ));
        }
        let has = |bit: u8| a.set & bit != 0;
        let edit = AccountEdit {
            balance: has(rpc::set::BALANCE).then_some(a.balance),
            nonce: has(rpc::set::NONCE).then_some(a.nonce),
            code: has(rpc::set::CODE).then(|| a.code.clone()),
        };
        if edit != AccountEdit::default() || a.storage.is_empty() {
            self.chain.edit_account(a.address, &edit).map_err(fail)?;
        }
        if !a.storage.is_empty() {
            let slots: Vec<(U256, U256)> = a.storage.iter().map(|s| (s.slot, s.value)).collect();
            self.chain.edit_storage(a.address, &slots).map_err(fail)?;
        }
        Ok(NoArgs {})
    }

    fn dev_control(&self, c: &DevControl) -> Answer<u64> {
        self.dev_only()?;
        match c.what {
            rpc::dev::DROP_TX => return Ok(u64::from(self.chain.drop_pooled(&c.hash))),
            rpc::dev::DROP_ALL => return Ok(self.chain.drop_all_pooled() as u64),
            rpc::dev::IMPERSONATE => {
                let impersonate = |i: &mut Impersonating| i.accounts.insert(c.address);
                return self.chain.impersonate(impersonate).map(|_| 0).map_err(fail);
            }
            rpc::dev::STOP_IMPERSONATING => {
                let stop = |i: &mut Impersonating| i.accounts.remove(&c.address);
                return self.chain.impersonate(stop).map(u64::from).map_err(fail);
            }
            rpc::dev::AUTO_IMPERSONATE => {
                let all = |i: &mut Impersonating| i.all = c.value != 0;
                return self.chain.impersonate(all).map(|_| 0).map_err(fail);
            }
            rpc::dev::IMPERSONATING => {
                let allows = |i: &mut Impersonating| i.allows(&c.address);
                return self.chain.impersonate(allows).map(u64::from).map_err(fail);
            }
            _ => {}
        }
        let head_timestamp = self.chain.head_header().0.timestamp;
        self.chain
            .set_dev_controls(|controls| {
                Ok(match c.what {
                    rpc::dev::INCREASE_TIME => {
                        controls.time_offset = controls.time_offset.saturating_add(c.value);
                        controls.time_offset
                    }
                    rpc::dev::NEXT_TIMESTAMP if c.value <= head_timestamp => {
                        return Err(ChainError::NextTimestamp {
                            timestamp: c.value,
                            head: head_timestamp,
                        });
                    }
                    rpc::dev::NEXT_TIMESTAMP => {
                        // The clock goes on from there, as anvil's and hardhat's do.
                        controls.next_timestamp = Some(c.value);
                        controls.time_offset = c.value.saturating_sub(now());
                        0
                    }
                    rpc::dev::NEXT_BASE_FEE => {
                        controls.next_base_fee = Some(c.value);
                        0
                    }
                    rpc::dev::COINBASE => {
                        controls.coinbase = Some(c.address);
                        0
                    }
                    rpc::dev::AUTOMINE => {
                        controls.automine = c.value != 0;
                        0
                    }
                    rpc::dev::INTERVAL => {
                        controls.block_time = c.value;
                        0
                    }
                    other => return Err(ChainError::UnknownDevControl(other)),
                })
            })
            .map_err(fail)
    }

    fn pool_content(&self) -> Answer<PoolContent> {
        let (pending, queued) = self
            .chain
            .pool
            .lock()
            .content(self.chain.db())
            .map_err(fail)?;
        let body = |txs: Vec<PoolTx>| {
            txs.into_iter()
                .map(|t| BodyTx {
                    sender: t.sender,
                    raw: t.raw,
                })
                .collect()
        };
        Ok(PoolContent {
            pending: body(pending),
            queued: body(queued),
        })
    }
}

impl Queries {
    /// The state after block `number`, or why the node cannot give it.
    fn state_at(&self, number: u64) -> Answer<molt_storage::StateAt> {
        self.chain.db().state_at(number).map_err(fail)
    }

    /// A failed call in the words a client expects (geth's for a timeout).
    fn call_failed(&self, e: ChainError) -> QueryError {
        match (e, self.limits.timeout) {
            (ChainError::Exec(e), Some(t)) if e.is_timeout() => {
                fail(format!("execution aborted (timeout = {t:?})"))
            }
            (e, _) => fail(e),
        }
    }
}

/// An account as the rpc ABI gives it (a missing one reads as zero, empty code).
fn account_state(state: &dyn StateView, address: &Address) -> Answer<AccountState> {
    let account = state.account(address).map_err(fail)?;
    Ok(account.map_or(
        AccountState {
            code_hash: alloy_trie::KECCAK_EMPTY,
            ..AccountState::default()
        },
        |a| AccountState {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
        },
    ))
}

/// An account's code (empty if none).
fn code_of(state: &dyn StateView, address: &Address) -> Answer<Bytes> {
    let code = match state.account(address).map_err(fail)? {
        Some(a) => state.code(&a.code_hash).map_err(fail)?,
        None => None,
    };
    Ok(code.unwrap_or_default())
}

impl ChainService for Queries {
    fn query(&self, request: &[u8]) -> Vec<u8> {
        rpc::serve(self, request)
    }
}
