//! The `rpc` kind's chain queries (`ABI.md` §10): what an rpc module may ask the node.
//!
//! An rpc module answers JSON-RPC; the chain itself — blocks, receipts, state, the
//! transaction pool, the unlocked dev keys — stays in the host. The module asks for it
//! through one import pair, `molt.chain` / `molt.chain_read`, with a request made of
//! an operation byte ([`op`]) followed by the RLP of that operation's arguments. The
//! response is a status byte followed by a payload: [`STATUS_OK`] and the RLP of the
//! result (an empty payload means "not found" where the operation says so), or
//! [`STATUS_ERR`] and a UTF-8 message meant for the JSON-RPC client (a rejected
//! transaction, an unknown account).
//!
//! Ethereum objects travel in their own encodings: headers as RLP, transactions as
//! EIP-2718 bytes, receipts as EIP-2718 receipt bytes.

use alloc::string::String;
use alloc::vec::Vec;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

pub use crate::envelope::{STATUS_ERR, STATUS_OK};
use crate::execution::CallOutput;

/// Operation bytes. Each names its argument and result types.
pub mod op {
    /// `()` → [`ChainInfo`](super::ChainInfo).
    pub const CHAIN_INFO: u8 = 0;
    /// [`BlockQuery`](super::BlockQuery) → the block's header RLP, or empty if unknown.
    pub const HEADER: u8 = 1;
    /// block number (`u64`) → list of [`BodyTx`](super::BodyTx), or empty if unknown.
    pub const BODY: u8 = 2;
    /// block number (`u64`) → list of EIP-2718 receipts (byte strings), or empty if
    /// unknown.
    pub const RECEIPTS: u8 = 3;
    /// transaction hash (`B256`) → [`TxLocation`](super::TxLocation), or empty if
    /// the transaction is in no block.
    pub const TX_LOCATION: u8 = 4;
    /// address → [`AccountState`](super::AccountState) at the head (zero if absent).
    pub const ACCOUNT: u8 = 5;
    /// [`StorageQuery`](super::StorageQuery) → the slot's value (`U256`) at the head.
    pub const STORAGE: u8 = 6;
    /// address → the account's code (byte string, empty if none) at the head.
    pub const CODE: u8 = 7;
    /// [`CallRequest`](super::CallRequest) → [`CallOutput`](crate::execution::CallOutput):
    /// executed by the node's execution module on the head state, in the environment
    /// of the next block, committing nothing.
    pub const CALL: u8 = 8;
    /// EIP-2718 transaction bytes (byte string) → its hash (`B256`); an error names
    /// why the pool refused it.
    pub const SEND_RAW: u8 = 9;
    /// address → the next nonce counting pooled transactions (`u64`).
    pub const PENDING_NONCE: u8 = 10;
    /// `()` → list of the addresses whose keys the node holds (unlocked accounts), then
    /// those a dev node impersonates.
    pub const ACCOUNTS: u8 = 11;
    /// [`SignRequest`](super::SignRequest) → 65 bytes `r ‖ s ‖ y_parity`; an error if
    /// the node holds no key for the address.
    pub const SIGN: u8 = 12;
    /// [`MineRequest`](super::MineRequest) → the new head's number (`u64`). Dev only.
    pub const MINE: u8 = 13;
    /// `()` → a snapshot id (`u64`) to revert to later. Dev only.
    pub const SNAPSHOT: u8 = 14;
    /// snapshot id (`u64`) → whether it was reverted to (`bool`). Dev only.
    pub const REVERT: u8 = 15;
    /// [`SetBalance`](super::SetBalance) → `()`. Dev only.
    pub const SET_BALANCE: u8 = 16;
    /// transaction hash (`B256`) → [`BodyTx`](super::BodyTx), or empty if the node's
    /// pool does not hold it (pending transactions, not yet in a block).
    pub const POOL_TX: u8 = 17;
    /// [`AccountAt`](super::AccountAt) → [`AccountState`](super::AccountState) after
    /// that block (zero if absent); an error names why the node cannot tell (a block
    /// it does not have, or whose state it no longer keeps).
    pub const ACCOUNT_AT: u8 = 18;
    /// [`StorageAt`](super::StorageAt) → the slot's value (`U256`) after that block.
    pub const STORAGE_AT: u8 = 19;
    /// [`AccountAt`](super::AccountAt) → the account's code after that block.
    pub const CODE_AT: u8 = 20;
    /// [`CallAt`](super::CallAt) → [`CallOutput`](crate::execution::CallOutput):
    /// executed on the state after that block, in that block's environment (number,
    /// timestamp, base fee), committing nothing.
    pub const CALL_AT: u8 = 21;
    /// [`ProofQuery`](super::ProofQuery) → [`AccountProof`](super::AccountProof): the
    /// account's and the slots' Merkle proofs (EIP-1186) against that block's state
    /// root.
    pub const PROOF: u8 = 22;
    /// [`NewFilter`](super::NewFilter) → the new filter's id (`u64`): the node keeps
    /// it (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`)
    /// until it is uninstalled or idle for five minutes.
    pub const NEW_FILTER: u8 = 23;
    /// [`FilterPoll`](super::FilterPoll) → [`FilterChanges`](super::FilterChanges);
    /// an error if the node holds no such filter (`filter not found`).
    pub const POLL_FILTER: u8 = 24;
    /// filter id (`u64`) → whether there was such a filter (`bool`).
    pub const UNINSTALL_FILTER: u8 = 25;
    /// `()` → [`PoolContent`](super::PoolContent): every pooled transaction, pending
    /// (its nonce continues its sender's without a gap) or queued.
    pub const POOL_CONTENT: u8 = 26;
    /// [`DevControl`](super::DevControl) → `u64` (what [`dev`](super::dev) says each
    /// control answers). Dev only.
    pub const DEV_CONTROL: u8 = 27;
    /// [`AccountOverride`](super::AccountOverride) → `()`: sets the balance, nonce or
    /// code its `set` bits name, and the slots of its `storage`, outside any block (the
    /// next block's state root includes them; `REVERT` undoes them). Replacing the
    /// whole storage (`WHOLE_STORAGE`) is an error. Dev only.
    pub const SET_ACCOUNT: u8 = 28;
    /// [`TraceBlock`](super::TraceBlock) → one JSON trace per traced transaction
    /// (`Vec<Bytes>`): the block's transactions executed again on the state before
    /// it by the execution module in force there, traced as geth's options say.
    pub const TRACE_BLOCK: u8 = 29;
    /// [`TraceCall`](super::TraceCall) → the JSON answer (`Bytes`): the message run
    /// as [`CALL_AT`] runs it, traced (`debug_traceCall`) or for its access list
    /// (`eth_createAccessList`), as its `style` says.
    pub const TRACE_CALL: u8 = 30;
    /// `()` → every account (`Vec<AccountOverride>`, with `set` = balance, nonce,
    /// code and whole storage): the state as `anvil_dumpState` saves it. Dev only.
    pub const DUMP_STATE: u8 = 31;
    /// `()` → [`NodeStatus`](super::NodeStatus): the node's peers and whether it is
    /// catching up with them (`net_peerCount`, `eth_syncing`).
    pub const NODE_STATUS: u8 = 32;

    /// Whether `op` only reads: it changes nothing (chain, pool, snapshots) and uses
    /// no key of the node's. A host may refuse every other operation where a module
    /// runs in a shadow (an upgrade gate trying a candidate on copies of live
    /// requests), and refuses operations it does not know the same way.
    pub const fn is_read(op: u8) -> bool {
        matches!(
            op,
            CHAIN_INFO
                | HEADER
                | BODY
                | RECEIPTS
                | TX_LOCATION
                | ACCOUNT
                | STORAGE
                | CODE
                | CALL
                | PENDING_NONCE
                | ACCOUNTS
                | POOL_TX
                | ACCOUNT_AT
                | STORAGE_AT
                | CODE_AT
                | CALL_AT
                | PROOF
                | POOL_CONTENT
                | TRACE_BLOCK
                | TRACE_CALL
                | NODE_STATUS
        )
    }
}

/// The arguments of an operation that takes none: the empty RLP list, written `()`
/// in [`op`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NoArgs {}

/// The node among its peers. A node without a network (`molt dev`) has no peers and
/// is never syncing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NodeStatus {
    /// Peers connected now.
    pub peers: u64,
    /// Whether the node is catching up: its peers are deciding a height more than a
    /// couple of blocks past its head.
    pub syncing: bool,
    /// The head when this sync began (the head at start); meaningful while syncing.
    pub starting: u64,
    /// The highest block its peers are known to have; meaningful while syncing.
    pub highest: u64,
}

/// What every JSON-RPC answer about "the chain" starts from.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ChainInfo {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Number of the last committed block.
    pub head: u64,
    /// Gas limit of the next block.
    pub gas_limit: u64,
    /// Base fee of the next block, wei.
    pub next_base_fee: u64,
    /// Whether the dev methods (`MINE`, `SNAPSHOT`, `REVERT`, `SET_BALANCE`,
    /// `DEV_CONTROL`, `SET_ACCOUNT`, `DUMP_STATE`) are available.
    pub dev: bool,
}

/// A block by number or by hash.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockQuery {
    /// Look up by `hash` instead of `number`.
    pub by_hash: bool,
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
}

impl BlockQuery {
    /// The block numbered `number`.
    pub fn number(number: u64) -> Self {
        BlockQuery {
            number,
            ..Self::default()
        }
    }

    /// The block whose hash is `hash`.
    pub fn hash(hash: B256) -> Self {
        BlockQuery {
            by_hash: true,
            hash,
            ..Self::default()
        }
    }
}

/// A transaction of a block, with the sender the node recovered.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BodyTx {
    /// The sender.
    pub sender: Address,
    /// EIP-2718 encoding.
    pub raw: Bytes,
}

/// Where a transaction was included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TxLocation {
    /// Block number.
    pub number: u64,
    /// Index in the block.
    pub index: u64,
}

/// An account at the head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountState {
    /// Balance, wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// Keccak-256 of the code.
    pub code_hash: B256,
}

/// A storage slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StorageQuery {
    /// The account.
    pub address: Address,
    /// The slot.
    pub slot: U256,
}

/// A message to execute without committing (`eth_call`, `eth_estimateGas`).
///
/// The last two fields are optional: a module may end the list before them.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct CallRequest {
    /// Sender.
    pub from: Address,
    /// Recipient; empty for a contract creation.
    pub to: Bytes,
    /// Value, wei.
    pub value: U256,
    /// Call data or init code.
    pub data: Bytes,
    /// Gas limit (0: the block's).
    pub gas_limit: u64,
    /// Gas price (0: no fee is charged).
    pub gas_price: u128,
    /// The EIP-2930 access list, RLP-encoded as in a transaction.
    pub access_list: Option<Bytes>,
    /// The EIP-7702 authorization list, RLP-encoded as in a type-4 transaction: the
    /// message is executed as a set-code transaction.
    pub authorization_list: Option<Bytes>,
}

/// An account after a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountAt {
    /// The block number.
    pub block: u64,
    /// The account.
    pub address: Address,
}

/// A storage slot after a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StorageAt {
    /// The block number.
    pub block: u64,
    /// The account.
    pub address: Address,
    /// The slot.
    pub slot: U256,
}

/// A message to execute on the state after a block, with parts of that state and of
/// the block's environment replaced for this call only (geth's state and block
/// overrides).
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CallAt {
    /// The block number.
    pub block: u64,
    /// The message.
    pub request: CallRequest,
    /// Accounts to replace, at most one entry per address.
    pub accounts: Vec<AccountOverride>,
    /// The environment to replace.
    pub env: EnvOverride,
}

/// Transactions of a block to trace.
///
/// `index` is decoded whenever it is there (`no_gaps`): index 0 is encoded as `0x80`,
/// which plain `trailing` would read as "absent", tracing the whole block.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing(no_gaps))]
pub struct TraceBlock {
    /// The block number.
    pub block: u64,
    /// geth's tracing options as JSON (`{"tracer":"callTracer"}`); empty for struct
    /// logs.
    pub options: Bytes,
    /// Only the transaction at this index (those before it run untraced); every
    /// transaction without it.
    pub index: Option<u64>,
}

/// A message to trace, or to find the access list of.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TraceCall {
    /// The message, where it runs, and its overrides.
    pub call: CallAt,
    /// [`trace::TRACE`](crate::execution::trace::TRACE) or
    /// [`trace::ACCESS_LIST`](crate::execution::trace::ACCESS_LIST).
    pub style: u8,
    /// geth's tracing options as JSON, for `TRACE`; empty for struct logs.
    pub options: Bytes,
}

/// Which fields of an [`AccountOverride`] or an [`EnvOverride`] apply: the bits of
/// their `set`.
pub mod set {
    /// [`AccountOverride::balance`](super::AccountOverride::balance).
    pub const BALANCE: u8 = 1;
    /// [`AccountOverride::nonce`](super::AccountOverride::nonce).
    pub const NONCE: u8 = 2;
    /// [`AccountOverride::code`](super::AccountOverride::code).
    pub const CODE: u8 = 4;
    /// [`AccountOverride::storage`](super::AccountOverride::storage) is the account's
    /// whole storage (geth's `state`); without it, its entries are laid over the
    /// account's storage (`stateDiff`).
    pub const WHOLE_STORAGE: u8 = 8;

    /// [`EnvOverride::number`](super::EnvOverride::number).
    pub const NUMBER: u8 = 1;
    /// [`EnvOverride::timestamp`](super::EnvOverride::timestamp).
    pub const TIMESTAMP: u8 = 2;
    /// [`EnvOverride::gas_limit`](super::EnvOverride::gas_limit).
    pub const GAS_LIMIT: u8 = 4;
    /// [`EnvOverride::coinbase`](super::EnvOverride::coinbase).
    pub const COINBASE: u8 = 8;
    /// [`EnvOverride::prevrandao`](super::EnvOverride::prevrandao).
    pub const PREVRANDAO: u8 = 16;
    /// [`EnvOverride::base_fee`](super::EnvOverride::base_fee).
    pub const BASE_FEE: u8 = 32;
}

/// An account as one call sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountOverride {
    /// The account.
    pub address: Address,
    /// Which fields apply ([`set`]).
    pub set: u8,
    /// Balance, wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// Code.
    pub code: Bytes,
    /// Storage slots (the whole storage with [`set::WHOLE_STORAGE`]).
    pub storage: Vec<SlotValue>,
}

/// A storage slot and its value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SlotValue {
    /// The slot.
    pub slot: U256,
    /// Its value.
    pub value: U256,
}

/// The block environment as one call sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct EnvOverride {
    /// Which fields apply ([`set`]).
    pub set: u8,
    /// Block number.
    pub number: u64,
    /// Timestamp, seconds.
    pub timestamp: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Fee recipient.
    pub coinbase: Address,
    /// `PREVRANDAO`.
    pub prevrandao: B256,
    /// Base fee, wei.
    pub base_fee: u64,
}

/// An account and some of its slots to prove after a block (`eth_getProof`).
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ProofQuery {
    /// The block number.
    pub block: u64,
    /// The account.
    pub address: Address,
    /// The slots.
    pub slots: Vec<U256>,
}

/// A storage slot's value and the storage trie's nodes from its root to it.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SlotProof {
    /// The slot.
    pub slot: U256,
    /// Its value (zero if unset).
    pub value: U256,
    /// The nodes, root first.
    pub proof: Vec<Bytes>,
}

/// An account's fields and the state trie's nodes from the root to it, with its
/// slots' proofs (EIP-1186). An absent account has zero fields, the empty code hash
/// and the empty storage root; its proof shows it is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountProof {
    /// Balance, wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// Keccak-256 of the code.
    pub code_hash: B256,
    /// The root of its storage trie.
    pub storage_root: B256,
    /// The nodes, root first.
    pub proof: Vec<Bytes>,
    /// The slots asked for.
    pub storage: Vec<SlotProof>,
}

/// What a filter reports ([`NewFilter::kind`]).
pub mod filter_kind {
    /// Logs of new blocks that match the filter's criteria.
    pub const LOGS: u8 = 0;
    /// The hashes of new blocks.
    pub const BLOCKS: u8 = 1;
    /// The hashes of transactions pooled since.
    pub const PENDING: u8 = 2;
}

/// A filter to install.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NewFilter {
    /// What it reports ([`filter_kind`]).
    pub kind: u8,
    /// The module's own description of what it matches (for a log filter, its
    /// criteria as the client gave them); the node keeps it and hands it back.
    pub criteria: Bytes,
    /// The first block the filter reports: the head + 1 for "from now on", or an
    /// earlier block (a log filter whose `fromBlock` is in the past reports the logs
    /// since then at its first poll, as anvil and reth do). Above the head + 1, the
    /// head + 1.
    pub start: u64,
}

/// A filter to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct FilterPoll {
    /// The filter's id.
    pub id: u64,
    /// Whether this read moves the filter on (`eth_getFilterChanges`): what it
    /// reports is not reported again. `false` (`eth_getFilterLogs`) reads the
    /// criteria only.
    pub advance: bool,
}

/// What a filter has to report since it was last polled.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct FilterChanges {
    /// What it reports ([`filter_kind`]).
    pub kind: u8,
    /// The criteria it was installed with.
    pub criteria: Bytes,
    /// The first block not reported before (logs and blocks filters).
    pub from: u64,
    /// The last block to report now (the head); none if below `from`.
    pub to: u64,
    /// Blocks filter: the hashes of blocks `from..=to`. Pending filter: the hashes of
    /// the transactions pooled since the last poll.
    pub hashes: Vec<B256>,
}

/// The transaction pool's content (`txpool_content`).
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct PoolContent {
    /// Transactions the next block can include, by sender then nonce.
    pub pending: Vec<BodyTx>,
    /// Transactions waiting for a missing nonce, by sender then nonce.
    pub queued: Vec<BodyTx>,
}

/// The dev node's controls ([`DevControl::what`]): its clock, the next block's
/// environment, when it mines, and its pool. Each is undone by `REVERT` to a snapshot
/// taken before.
pub mod dev {
    /// Moves the clock `value` seconds forward (`evm_increaseTime`); answers the total
    /// offset.
    pub const INCREASE_TIME: u8 = 0;
    /// The next block's timestamp is `value` (`evm_setNextBlockTimestamp`), and the
    /// clock goes on from there; it must be above the head's.
    pub const NEXT_TIMESTAMP: u8 = 1;
    /// Blocks from now on pay `address` (`anvil_setCoinbase`).
    pub const COINBASE: u8 = 2;
    /// `value` 1: seal as soon as transactions are pending; 0: only when asked
    /// (`evm_setAutomine`).
    pub const AUTOMINE: u8 = 3;
    /// Seal a block every `value` seconds; 0: back to sealing on demand
    /// (`anvil_setIntervalMining`).
    pub const INTERVAL: u8 = 4;
    /// Drops pooled transaction `hash` (`anvil_dropTransaction`); answers 1 if it was
    /// pooled.
    pub const DROP_TX: u8 = 5;
    /// Empties the pool (`anvil_dropAllTransactions`); answers how many were dropped.
    pub const DROP_ALL: u8 = 6;
    /// Lets the node take transactions from `address` signed with the impersonation
    /// marker (`anvil_impersonateAccount`, see
    /// [`impersonation`](crate::execution::impersonation)); answers 0.
    pub const IMPERSONATE: u8 = 7;
    /// Stops that (`anvil_stopImpersonatingAccount`); answers 1 if it was impersonated.
    pub const STOP_IMPERSONATING: u8 = 8;
    /// Impersonates every account (`value` 1) or only those named (`value` 0)
    /// (`anvil_autoImpersonateAccount`); answers 0.
    pub const AUTO_IMPERSONATE: u8 = 9;
    /// Answers 1 if `address` may be impersonated now, 0 if not; changes nothing.
    pub const IMPERSONATING: u8 = 10;
    /// The next block's base fee, wei (`anvil_setNextBlockBaseFeePerGas`), used once;
    /// the blocks after derive theirs from it. Answers 0.
    pub const NEXT_BASE_FEE: u8 = 11;
}

/// One use of a dev control.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct DevControl {
    /// Which control ([`dev`]).
    pub what: u8,
    /// Its number, if it takes one.
    pub value: u64,
    /// Its address, if it takes one.
    pub address: Address,
    /// Its hash, if it takes one.
    pub hash: B256,
}

/// A hash to sign with an unlocked account's key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SignRequest {
    /// The account.
    pub address: Address,
    /// The 32-byte hash to sign (a transaction's signing hash).
    pub hash: B256,
}

/// Blocks to mine now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct MineRequest {
    /// How many blocks (at least one is mined).
    pub blocks: u64,
    /// Timestamp of the first, seconds (0: now).
    pub timestamp: u64,
}

/// A balance to set directly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SetBalance {
    /// The account.
    pub address: Address,
    /// Its new balance, wei.
    pub balance: U256,
}

/// Encodes a request: the operation byte, then the RLP of `args`.
pub fn request<T: Encodable + ?Sized>(op: u8, args: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + args.length());
    out.push(op);
    args.encode(&mut out);
    out
}

/// Splits a request into its operation byte and argument bytes.
pub fn split_request(bytes: &[u8]) -> Option<(u8, &[u8])> {
    bytes.split_first().map(|(op, rest)| (*op, rest))
}

/// A successful response carrying `value`.
pub fn ok<T: Encodable + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + value.length());
    out.push(STATUS_OK);
    value.encode(&mut out);
    out
}

/// A successful "not found" response.
pub fn not_found() -> Vec<u8> {
    alloc::vec![STATUS_OK]
}

/// A failed response with a message for the client.
pub fn err(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + message.len());
    out.push(STATUS_ERR);
    out.extend_from_slice(message.as_bytes());
    out
}

/// Why a chain query failed, as the module sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// The node refused or could not serve it; the message is for the client.
    Node(String),
    /// The response does not decode (a host/module version mismatch).
    Decode(String),
}

impl core::fmt::Display for QueryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            QueryError::Node(m) => f.write_str(m),
            QueryError::Decode(m) => write!(f, "bad chain response: {m}"),
        }
    }
}

/// Decodes a response: `Ok(None)` for "not found", `Ok(Some(value))`, or the error.
pub fn decode_response<T: Decodable>(bytes: &[u8]) -> Result<Option<T>, QueryError> {
    match bytes.split_first() {
        Some((&STATUS_OK, [])) => Ok(None),
        Some((&STATUS_OK, payload)) => crate::execution::decode(payload)
            .map(Some)
            .map_err(|e| QueryError::Decode(alloc::format!("{e}"))),
        Some((&STATUS_ERR, message)) => Err(QueryError::Node(
            String::from_utf8_lossy(message).into_owned(),
        )),
        _ => Err(QueryError::Decode("missing status byte".into())),
    }
}

/// What a chain query answers: the value, or why not (for the client).
pub type Answer<T> = Result<T, QueryError>;

/// The chain queries, one method per operation of [`op`]: what the node answers and
/// what a module asks.
///
/// The node implements it and answers request bytes with [`serve`]; every
/// [`ChainHost`](crate::imports::ChainHost) — a module's view of the node — implements
/// it by sending the request bytes and decoding the response. Both sides use the codec
/// written once here, so one operation cannot mean two things.
pub trait ChainQueries {
    /// [`op::CHAIN_INFO`].
    fn chain_info(&self) -> Answer<ChainInfo>;
    /// [`op::HEADER`]: the header's RLP.
    fn header(&self, query: &BlockQuery) -> Answer<Option<Bytes>>;
    /// [`op::BODY`].
    fn body(&self, number: u64) -> Answer<Option<Vec<BodyTx>>>;
    /// [`op::RECEIPTS`]: EIP-2718 receipts.
    fn receipts(&self, number: u64) -> Answer<Option<Vec<Bytes>>>;
    /// [`op::TX_LOCATION`].
    fn tx_location(&self, hash: &B256) -> Answer<Option<TxLocation>>;
    /// [`op::ACCOUNT`].
    fn account(&self, address: &Address) -> Answer<AccountState>;
    /// [`op::STORAGE`].
    fn storage(&self, query: &StorageQuery) -> Answer<U256>;
    /// [`op::CODE`].
    fn code(&self, address: &Address) -> Answer<Bytes>;
    /// [`op::CALL`].
    fn call(&self, request: &CallRequest) -> Answer<CallOutput>;
    /// [`op::SEND_RAW`].
    fn send_raw(&self, raw: &Bytes) -> Answer<B256>;
    /// [`op::PENDING_NONCE`].
    fn pending_nonce(&self, address: &Address) -> Answer<u64>;
    /// [`op::ACCOUNTS`].
    fn accounts(&self) -> Answer<Vec<Address>>;
    /// [`op::SIGN`]: `r ‖ s ‖ y_parity`.
    fn sign(&self, request: &SignRequest) -> Answer<Bytes>;
    /// [`op::MINE`].
    fn mine(&self, request: &MineRequest) -> Answer<u64>;
    /// [`op::SNAPSHOT`].
    fn snapshot(&self) -> Answer<u64>;
    /// [`op::REVERT`].
    fn revert(&self, id: u64) -> Answer<bool>;
    /// [`op::SET_BALANCE`].
    fn set_balance(&self, request: &SetBalance) -> Answer<NoArgs>;
    /// [`op::POOL_TX`].
    fn pool_tx(&self, hash: &B256) -> Answer<Option<BodyTx>>;
    /// [`op::ACCOUNT_AT`].
    fn account_at(&self, query: &AccountAt) -> Answer<AccountState> {
        let _ = query;
        Err(unsupported("the state of past blocks"))
    }
    /// [`op::STORAGE_AT`].
    fn storage_at(&self, query: &StorageAt) -> Answer<U256> {
        let _ = query;
        Err(unsupported("the state of past blocks"))
    }
    /// [`op::CODE_AT`].
    fn code_at(&self, query: &AccountAt) -> Answer<Bytes> {
        let _ = query;
        Err(unsupported("the state of past blocks"))
    }
    /// [`op::CALL_AT`].
    fn call_at(&self, request: &CallAt) -> Answer<CallOutput> {
        let _ = request;
        Err(unsupported("the state of past blocks"))
    }
    /// [`op::PROOF`].
    fn proof(&self, query: &ProofQuery) -> Answer<AccountProof> {
        let _ = query;
        Err(unsupported("proofs"))
    }
    /// [`op::NEW_FILTER`].
    fn new_filter(&self, filter: &NewFilter) -> Answer<u64> {
        let _ = filter;
        Err(unsupported("filters"))
    }
    /// [`op::POLL_FILTER`].
    fn poll_filter(&self, poll: &FilterPoll) -> Answer<FilterChanges> {
        let _ = poll;
        Err(unsupported("filters"))
    }
    /// [`op::UNINSTALL_FILTER`].
    fn uninstall_filter(&self, id: u64) -> Answer<bool> {
        let _ = id;
        Err(unsupported("filters"))
    }
    /// [`op::POOL_CONTENT`].
    fn pool_content(&self) -> Answer<PoolContent> {
        Err(unsupported("the pool's content"))
    }
    /// [`op::DEV_CONTROL`].
    fn dev_control(&self, control: &DevControl) -> Answer<u64> {
        let _ = control;
        Err(unsupported("dev controls"))
    }
    /// [`op::SET_ACCOUNT`].
    fn set_account(&self, edit: &AccountOverride) -> Answer<NoArgs> {
        let _ = edit;
        Err(unsupported("account edits"))
    }
    /// [`op::TRACE_BLOCK`].
    fn trace_block(&self, request: &TraceBlock) -> Answer<Vec<Bytes>> {
        let _ = request;
        Err(unsupported("tracing"))
    }
    /// [`op::TRACE_CALL`].
    fn trace_call(&self, request: &TraceCall) -> Answer<Bytes> {
        let _ = request;
        Err(unsupported("tracing"))
    }
    /// [`op::DUMP_STATE`].
    fn dump_state(&self) -> Answer<Vec<AccountOverride>> {
        Err(unsupported("state dumps"))
    }
    /// [`op::NODE_STATUS`]: by default a node alone.
    fn node_status(&self) -> Answer<NodeStatus> {
        Ok(NodeStatus::default())
    }
}

/// The answer of a node that does not serve an operation.
fn unsupported(what: &str) -> QueryError {
    QueryError::Node(alloc::format!("this node does not serve {what}"))
}

/// Answers one request (operation byte ‖ RLP arguments) from `chain`: the node's side
/// of the import. Arguments that do not decode and unknown operations are answered
/// with an error, never a trap.
pub fn serve<Q: ChainQueries + ?Sized>(chain: &Q, request: &[u8]) -> Vec<u8> {
    fn reply<T: Encodable>(answer: Answer<T>) -> Vec<u8> {
        match answer {
            Ok(value) => ok(&value),
            Err(e) => err(&alloc::format!("{e}")),
        }
    }
    fn found<T: Encodable>(answer: Answer<Option<T>>) -> Vec<u8> {
        match answer {
            Ok(Some(value)) => ok(&value),
            Ok(None) => not_found(),
            Err(e) => err(&alloc::format!("{e}")),
        }
    }
    fn with<A: Decodable>(args: &[u8], then: impl FnOnce(A) -> Vec<u8>) -> Vec<u8> {
        match crate::execution::decode(args) {
            Ok(a) => then(a),
            Err(e) => err(&alloc::format!("malformed chain query: {e}")),
        }
    }
    let Some((operation, args)) = split_request(request) else {
        return err("empty chain query");
    };
    match operation {
        op::CHAIN_INFO => reply(chain.chain_info()),
        op::HEADER => with(args, |q: BlockQuery| found(chain.header(&q))),
        op::BODY => with(args, |n: u64| found(chain.body(n))),
        op::RECEIPTS => with(args, |n: u64| found(chain.receipts(n))),
        op::TX_LOCATION => with(args, |h: B256| found(chain.tx_location(&h))),
        op::ACCOUNT => with(args, |a: Address| reply(chain.account(&a))),
        op::STORAGE => with(args, |q: StorageQuery| reply(chain.storage(&q))),
        op::CODE => with(args, |a: Address| reply(chain.code(&a))),
        op::CALL => with(args, |r: CallRequest| reply(chain.call(&r))),
        op::SEND_RAW => with(args, |raw: Bytes| reply(chain.send_raw(&raw))),
        op::PENDING_NONCE => with(args, |a: Address| reply(chain.pending_nonce(&a))),
        op::ACCOUNTS => reply(chain.accounts()),
        op::SIGN => with(args, |r: SignRequest| reply(chain.sign(&r))),
        op::MINE => with(args, |r: MineRequest| reply(chain.mine(&r))),
        op::SNAPSHOT => reply(chain.snapshot()),
        op::REVERT => with(args, |id: u64| reply(chain.revert(id))),
        op::SET_BALANCE => with(args, |r: SetBalance| reply(chain.set_balance(&r))),
        op::POOL_TX => with(args, |h: B256| found(chain.pool_tx(&h))),
        op::ACCOUNT_AT => with(args, |q: AccountAt| reply(chain.account_at(&q))),
        op::STORAGE_AT => with(args, |q: StorageAt| reply(chain.storage_at(&q))),
        op::CODE_AT => with(args, |q: AccountAt| reply(chain.code_at(&q))),
        op::CALL_AT => with(args, |r: CallAt| reply(chain.call_at(&r))),
        op::PROOF => with(args, |q: ProofQuery| reply(chain.proof(&q))),
        op::NEW_FILTER => with(args, |f: NewFilter| reply(chain.new_filter(&f))),
        op::POLL_FILTER => with(args, |p: FilterPoll| reply(chain.poll_filter(&p))),
        op::UNINSTALL_FILTER => with(args, |id: u64| reply(chain.uninstall_filter(id))),
        op::POOL_CONTENT => reply(chain.pool_content()),
        op::DEV_CONTROL => with(args, |c: DevControl| reply(chain.dev_control(&c))),
        op::SET_ACCOUNT => with(args, |a: AccountOverride| reply(chain.set_account(&a))),
        op::TRACE_BLOCK => with(args, |t: TraceBlock| reply(chain.trace_block(&t))),
        op::TRACE_CALL => with(args, |t: TraceCall| reply(chain.trace_call(&t))),
        op::DUMP_STATE => reply(chain.dump_state()),
        op::NODE_STATUS => reply(chain.node_status()),
        other => err(&alloc::format!("unknown chain query {other}")),
    }
}

/// Generic chain queries over any [`ChainHost`](crate::imports::ChainHost): one
/// operation's request sent, its response decoded.
pub trait Chain: crate::imports::ChainHost {
    /// Runs `op` with `args` and decodes the result.
    fn query<A: Encodable + ?Sized, T: Decodable>(
        &self,
        op: u8,
        args: &A,
    ) -> Result<Option<T>, QueryError> {
        decode_response(&self.chain(&request(op, args)))
    }

    /// Like [`query`](Self::query) for operations that always return a value.
    fn get<A: Encodable + ?Sized, T: Decodable>(&self, op: u8, args: &A) -> Result<T, QueryError> {
        self.query(op, args)?
            .ok_or_else(|| QueryError::Decode("empty response".into()))
    }
}

impl<H: crate::imports::ChainHost + ?Sized> Chain for H {}

/// A module's side: every [`ChainHost`](crate::imports::ChainHost) asks the node.
impl<H: crate::imports::ChainHost + ?Sized> ChainQueries for H {
    fn chain_info(&self) -> Answer<ChainInfo> {
        self.get(op::CHAIN_INFO, &NoArgs {})
    }
    fn header(&self, query: &BlockQuery) -> Answer<Option<Bytes>> {
        self.query(op::HEADER, query)
    }
    fn body(&self, number: u64) -> Answer<Option<Vec<BodyTx>>> {
        self.query(op::BODY, &number)
    }
    fn receipts(&self, number: u64) -> Answer<Option<Vec<Bytes>>> {
        self.query(op::RECEIPTS, &number)
    }
    fn tx_location(&self, hash: &B256) -> Answer<Option<TxLocation>> {
        self.query(op::TX_LOCATION, hash)
    }
    fn account(&self, address: &Address) -> Answer<AccountState> {
        self.get(op::ACCOUNT, address)
    }
    fn storage(&self, query: &StorageQuery) -> Answer<U256> {
        self.get(op::STORAGE, query)
    }
    fn code(&self, address: &Address) -> Answer<Bytes> {
        self.get(op::CODE, address)
    }
    fn call(&self, request: &CallRequest) -> Answer<CallOutput> {
        self.get(op::CALL, request)
    }
    fn send_raw(&self, raw: &Bytes) -> Answer<B256> {
        self.get(op::SEND_RAW, raw)
    }
    fn pending_nonce(&self, address: &Address) -> Answer<u64> {
        self.get(op::PENDING_NONCE, address)
    }
    fn accounts(&self) -> Answer<Vec<Address>> {
        self.get(op::ACCOUNTS, &NoArgs {})
    }
    fn sign(&self, request: &SignRequest) -> Answer<Bytes> {
        self.get(op::SIGN, request)
    }
    fn mine(&self, request: &MineRequest) -> Answer<u64> {
        self.get(op::MINE, request)
    }
    fn snapshot(&self) -> Answer<u64> {
        self.get(op::SNAPSHOT, &NoArgs {})
    }
    fn revert(&self, id: u64) -> Answer<bool> {
        self.get(op::REVERT, &id)
    }
    fn set_balance(&self, request: &SetBalance) -> Answer<NoArgs> {
        self.get(op::SET_BALANCE, request)
    }
    fn pool_tx(&self, hash: &B256) -> Answer<Option<BodyTx>> {
        self.query(op::POOL_TX, hash)
    }
    fn account_at(&self, query: &AccountAt) -> Answer<AccountState> {
        self.get(op::ACCOUNT_AT, query)
    }
    fn storage_at(&self, query: &StorageAt) -> Answer<U256> {
        self.get(op::STORAGE_AT, query)
    }
    fn code_at(&self, query: &AccountAt) -> Answer<Bytes> {
        self.get(op::CODE_AT, query)
    }
    fn call_at(&self, request: &CallAt) -> Answer<CallOutput> {
        self.get(op::CALL_AT, request)
    }
    fn proof(&self, query: &ProofQuery) -> Answer<AccountProof> {
        self.get(op::PROOF, query)
    }
    fn new_filter(&self, filter: &NewFilter) -> Answer<u64> {
        self.get(op::NEW_FILTER, filter)
    }
    fn poll_filter(&self, poll: &FilterPoll) -> Answer<FilterChanges> {
        self.get(op::POLL_FILTER, poll)
    }
    fn uninstall_filter(&self, id: u64) -> Answer<bool> {
        self.get(op::UNINSTALL_FILTER, &id)
    }
    fn pool_content(&self) -> Answer<PoolContent> {
        self.get(op::POOL_CONTENT, &NoArgs {})
    }
    fn dev_control(&self, control: &DevControl) -> Answer<u64> {
        self.get(op::DEV_CONTROL, control)
    }
    fn set_account(&self, edit: &AccountOverride) -> Answer<NoArgs> {
        self.get(op::SET_ACCOUNT, edit)
    }
    fn trace_block(&self, request: &TraceBlock) -> Answer<Vec<Bytes>> {
        self.get(op::TRACE_BLOCK, request)
    }
    fn trace_call(&self, request: &TraceCall) -> Answer<Bytes> {
        self.get(op::TRACE_CALL, request)
    }
    fn dump_state(&self) -> Answer<Vec<AccountOverride>> {
        self.get(op::DUMP_STATE, &NoArgs {})
    }
    fn node_status(&self) -> Answer<NodeStatus> {
        self.get(op::NODE_STATUS, &NoArgs {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_of_the_first_transaction_stays_one_transaction() {
        for index in [None, Some(0), Some(1), Some(300)] {
            let q = TraceBlock {
                block: 9,
                options: Bytes::new(),
                index,
            };
            let bytes = crate::execution::encode(&q);
            assert_eq!(crate::execution::decode::<TraceBlock>(&bytes), Ok(q));
        }
    }

    #[test]
    fn request_and_response_round_trip() {
        let q = BlockQuery::hash(B256::repeat_byte(7));
        let bytes = request(op::HEADER, &q);
        let (o, args) = split_request(&bytes).expect("non-empty");
        assert_eq!(o, op::HEADER);
        assert_eq!(crate::execution::decode::<BlockQuery>(args), Ok(q));

        let info = ChainInfo {
            chain_id: 31337,
            head: 4,
            gas_limit: 30_000_000,
            next_base_fee: 7,
            dev: true,
        };
        assert_eq!(decode_response::<ChainInfo>(&ok(&info)), Ok(Some(info)));
        assert_eq!(decode_response::<ChainInfo>(&not_found()), Ok(None));
        assert_eq!(
            decode_response::<ChainInfo>(&err("nonce too low")),
            Err(QueryError::Node("nonce too low".into()))
        );
        assert!(matches!(
            decode_response::<ChainInfo>(&[]),
            Err(QueryError::Decode(_))
        ));
    }

    /// A node that knows one account and one header, and refuses the rest.
    struct Node;

    impl ChainQueries for Node {
        fn chain_info(&self) -> Answer<ChainInfo> {
            Ok(ChainInfo {
                chain_id: 7,
                head: 3,
                ..ChainInfo::default()
            })
        }
        fn header(&self, q: &BlockQuery) -> Answer<Option<Bytes>> {
            Ok((q.number == 3).then(|| Bytes::from_static(b"\xc0")))
        }
        fn body(&self, _: u64) -> Answer<Option<Vec<BodyTx>>> {
            Ok(None)
        }
        fn receipts(&self, _: u64) -> Answer<Option<Vec<Bytes>>> {
            Ok(Some(Vec::new()))
        }
        fn tx_location(&self, _: &B256) -> Answer<Option<TxLocation>> {
            Ok(None)
        }
        fn account(&self, address: &Address) -> Answer<AccountState> {
            Ok(AccountState {
                nonce: u64::from(address.0[19]),
                ..AccountState::default()
            })
        }
        fn storage(&self, q: &StorageQuery) -> Answer<U256> {
            Ok(q.slot + U256::from(1))
        }
        fn code(&self, _: &Address) -> Answer<Bytes> {
            Ok(Bytes::new())
        }
        fn call(&self, _: &CallRequest) -> Answer<CallOutput> {
            Err(QueryError::Node("execution aborted (timeout = 5s)".into()))
        }
        fn send_raw(&self, raw: &Bytes) -> Answer<B256> {
            Ok(B256::repeat_byte(raw.len() as u8))
        }
        fn pending_nonce(&self, _: &Address) -> Answer<u64> {
            Ok(9)
        }
        fn accounts(&self) -> Answer<Vec<Address>> {
            Ok(alloc::vec![Address::repeat_byte(1)])
        }
        fn sign(&self, _: &SignRequest) -> Answer<Bytes> {
            Err(QueryError::Node("unknown account".into()))
        }
        fn mine(&self, q: &MineRequest) -> Answer<u64> {
            Ok(q.blocks)
        }
        fn snapshot(&self) -> Answer<u64> {
            Ok(1)
        }
        fn revert(&self, id: u64) -> Answer<bool> {
            Ok(id == 1)
        }
        fn set_balance(&self, _: &SetBalance) -> Answer<NoArgs> {
            Ok(NoArgs {})
        }
        fn pool_tx(&self, _: &B256) -> Answer<Option<BodyTx>> {
            Ok(None)
        }
    }

    /// A module's view of `Node`: requests cross as bytes through `serve`.
    struct Module;

    impl crate::imports::Host for Module {
        fn log(&self, _: crate::imports::Level, _: &str) {}
        fn keccak256(&self, _: &[u8]) -> [u8; 32] {
            [0; 32]
        }
        fn secp256k1_recover(&self, _: &[u8; 32], _: &[u8; 64], _: u8) -> Option<[u8; 20]> {
            None
        }
        fn ed25519_verify(&self, _: &[u8], _: &[u8; 64], _: &[u8; 32]) -> bool {
            false
        }
    }

    impl crate::imports::ChainHost for Module {
        fn chain(&self, request: &[u8]) -> Vec<u8> {
            serve(&Node, request)
        }
    }

    #[test]
    fn every_query_means_the_same_on_both_sides_of_the_wire() {
        let m = Module;
        assert_eq!(m.chain_info(), Node.chain_info());
        for n in [2, 3] {
            let q = BlockQuery::number(n);
            assert_eq!(ChainQueries::header(&m, &q), Node.header(&q));
        }
        assert_eq!(m.body(1), Ok(None));
        assert_eq!(m.receipts(1), Ok(Some(Vec::new())));
        assert_eq!(m.tx_location(&B256::ZERO), Ok(None));
        let a = Address::with_last_byte(5);
        assert_eq!(m.account(&a).map(|s| s.nonce), Ok(5));
        let q = StorageQuery {
            address: a,
            slot: U256::from(41),
        };
        assert_eq!(m.storage(&q), Ok(U256::from(42)));
        assert_eq!(m.code(&a), Ok(Bytes::new()));
        assert_eq!(
            ChainQueries::call(&m, &CallRequest::default()),
            Err(QueryError::Node("execution aborted (timeout = 5s)".into()))
        );
        let raw = Bytes::from_static(&[1, 2, 3]);
        assert_eq!(m.send_raw(&raw), Ok(B256::repeat_byte(3)));
        assert_eq!(m.pending_nonce(&a), Ok(9));
        assert_eq!(m.accounts(), Node.accounts());
        assert!(m.sign(&SignRequest::default()).is_err());
        let mine = MineRequest {
            blocks: 4,
            timestamp: 0,
        };
        assert_eq!(m.mine(&mine), Ok(4));
        assert_eq!(m.snapshot(), Ok(1));
        assert_eq!((m.revert(1), m.revert(2)), (Ok(true), Ok(false)));
        assert_eq!(m.set_balance(&SetBalance::default()), Ok(NoArgs {}));
        assert_eq!(m.pool_tx(&B256::ZERO), Ok(None));
    }

    #[test]
    fn requests_the_node_cannot_read_are_answered_not_trapped() {
        assert_eq!(serve(&Node, &[]), err("empty chain query"));
        assert_eq!(serve(&Node, &[200]), err("unknown chain query 200"));
        let answer = serve(&Node, &[op::ACCOUNT, 0xff]);
        assert_eq!(answer[0], STATUS_ERR);
        assert!(
            answer.starts_with(b"\x01malformed chain query"),
            "{answer:?}"
        );
    }
}
