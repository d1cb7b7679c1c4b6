//! Payloads of the `execution` kind (`ABI.md` §8), as RLP structures.
//!
//! These types fix the *shape* of what crosses the boundary; what the values mean is
//! Ethereum's business, implemented by the execution module and the host's chain
//! driver. Every structure is an RLP list of its fields in declaration order; an
//! optional address is an empty string or 20 bytes.

use alloc::string::String;
use alloc::vec::Vec;
use alloy_primitives::{Address, B256, Bytes, Log, U256};
use alloy_rlp::{Decodable, Encodable, Header, RlpDecodable, RlpEncodable};

/// The block a module executes transactions in.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockEnv {
    /// Fork rules, lowercase: `frontier` … `cancun`, `prague`.
    pub spec: String,
    /// Chain id transactions must carry (EIP-155).
    pub chain_id: u64,
    /// Block number.
    pub number: u64,
    /// Block timestamp, seconds.
    pub timestamp: u64,
    /// Fee recipient.
    pub coinbase: Address,
    /// Block gas limit.
    pub gas_limit: u64,
    /// EIP-1559 base fee per gas (0 before London).
    pub base_fee: u64,
    /// Difficulty (pre-merge forks).
    pub difficulty: U256,
    /// `PREVRANDAO` (post-merge forks).
    pub prevrandao: B256,
    /// EIP-4844 excess blob gas (Cancun on).
    pub excess_blob_gas: u64,
}

/// Input of `molt_execute_block`. The last field is optional: a host may end the list
/// before it.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct BlockInput {
    /// The block.
    pub env: BlockEnv,
    /// Transactions in order, each in its EIP-2718 encoding (a legacy transaction is
    /// its RLP list), carried as an RLP byte string.
    pub txs: Vec<Bytes>,
    /// `Some(true)` on a chain that takes impersonated transactions (a dev chain's
    /// `anvil_impersonateAccount`): one whose signature is the [`impersonation`]
    /// marker is from the account the marker names. Absent elsewhere, where such a
    /// transaction has no valid signature.
    pub impersonation: Option<bool>,
}

/// Transactions sent as an account without its key, on a dev chain
/// (`anvil_impersonateAccount`): the signature is a marker naming the sender, `r` =
/// the address and `s` = 0. It can never be a valid signature (`s` must be at least
/// 1), and it differs for every sender, so two such transactions with the same fields
/// from different accounts still have different hashes.
pub mod impersonation {
    use alloy_primitives::{Address, Signature, U256};

    /// The marker signature of a transaction from `sender`.
    pub fn signature(sender: Address) -> Signature {
        Signature::new(U256::from_be_slice(sender.as_slice()), U256::ZERO, false)
    }

    /// The sender a marker signature names; `None` if it is not one.
    pub fn sender(signature: &Signature) -> Option<Address> {
        let r = signature.r().to_be_bytes::<32>();
        (signature.s().is_zero() && r[..12].iter().all(|b| *b == 0))
            .then(|| Address::from_slice(&r[12..]))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_marker_names_its_sender_and_nothing_else_is_a_marker() {
            let sender = Address::repeat_byte(0xab);
            assert_eq!(super::sender(&signature(sender)), Some(sender));
            let real = Signature::new(U256::from(7), U256::from(9), true);
            assert_eq!(super::sender(&real), None);
            let wide = Signature::new(U256::MAX, U256::ZERO, false);
            assert_eq!(super::sender(&wide), None);
        }
    }
}

/// What became of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// Included in the block (whether its execution succeeded or reverted).
    /// Encoded as `[0, receipt]`.
    Included(Receipt),
    /// Not includable; it changed nothing. Encoded as `[1, rejection]`.
    Rejected(Rejection),
}

/// The receipt of an included transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Receipt {
    /// EIP-2718 type (0 legacy, 1 access list, 2 dynamic fee, 3 blob, 4 set code).
    pub tx_type: u8,
    /// Keccak-256 of the transaction's encoding.
    pub tx_hash: B256,
    /// The recovered sender.
    pub sender: Address,
    /// Whether execution succeeded (`false`: reverted or halted).
    pub success: bool,
    /// Gas this transaction used.
    pub gas_used: u64,
    /// Gas used by the block up to and including this transaction.
    pub cumulative_gas_used: u64,
    /// Logs, in order (empty unless `success`).
    pub logs: Vec<Log>,
    /// The created contract's address for a successful creation, else empty.
    pub contract_address: Bytes,
    /// Return data (or revert data).
    pub output: Bytes,
}

/// Why a transaction cannot be included.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Rejection {
    /// A stable code, one of the [`reject`] constants.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

/// Rejection codes.
pub mod reject {
    /// The bytes are not a valid EIP-2718 transaction.
    pub const MALFORMED: &str = "malformed";
    /// The signature does not recover to a sender.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// The transaction is for another chain.
    pub const WRONG_CHAIN_ID: &str = "wrong_chain_id";
    /// The sender's nonce is higher than the transaction's.
    pub const NONCE_TOO_LOW: &str = "nonce_too_low";
    /// The sender's nonce is lower than the transaction's.
    pub const NONCE_TOO_HIGH: &str = "nonce_too_high";
    /// The sender cannot pay for gas and value.
    pub const INSUFFICIENT_FUNDS: &str = "insufficient_funds";
    /// The gas limit does not cover the intrinsic cost.
    pub const INTRINSIC_GAS_TOO_LOW: &str = "intrinsic_gas_too_low";
    /// The gas limit exceeds the block's gas limit.
    pub const GAS_LIMIT_EXCEEDS_BLOCK: &str = "gas_limit_exceeds_block";
    /// The block has too little gas left for this transaction.
    pub const BLOCK_GAS_EXHAUSTED: &str = "block_gas_exhausted";
    /// The fee cap is below the block's base fee, or the tip above the cap.
    pub const FEE_TOO_LOW: &str = "fee_too_low";
    /// The transaction type is not active in this fork.
    pub const TYPE_NOT_SUPPORTED: &str = "type_not_supported";
    /// The sender has code (EIP-3607).
    pub const SENDER_NOT_EOA: &str = "sender_not_eoa";
    /// Any other validity rule (blob fields, init code size, …); see the message.
    pub const INVALID: &str = "invalid";
}

/// An account's state after the block.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountChange {
    /// The account.
    pub address: Address,
    /// The account no longer exists (its storage is gone too; `info` is zero).
    pub deleted: bool,
    /// Its new nonce, balance and code hash.
    pub info: AccountInfo,
    /// Whether its storage was wiped before `storage` applies (creation, deletion).
    pub storage_wiped: bool,
    /// Changed slots and their new values (zero: slot cleared), ascending by slot.
    pub storage: Vec<StorageChange>,
}

/// Nonce, balance and code hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountInfo {
    /// Nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Keccak-256 of the code (`keccak256("")` for none).
    pub code_hash: B256,
}

/// One storage slot's new value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StorageChange {
    /// Slot.
    pub slot: U256,
    /// New value.
    pub value: U256,
}

/// Code deployed by the block.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NewCode {
    /// Keccak-256 of `code`.
    pub hash: B256,
    /// The code.
    pub code: Bytes,
}

/// Output of `molt_execute_block`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockOutput {
    /// One outcome per input transaction, in order.
    pub outcomes: Vec<TxOutcome>,
    /// Gas used by the included transactions.
    pub gas_used: u64,
    /// Accounts changed by the block, ascending by address.
    pub accounts: Vec<AccountChange>,
    /// Code first deployed by the block, ascending by hash.
    pub codes: Vec<NewCode>,
}

/// Input of `molt_execute_call`: a message executed without a signature and without
/// committing anything (`eth_call`, gas estimation). The last two fields are optional:
/// a host may end the list before them.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct CallInput {
    /// The block to execute in.
    pub env: BlockEnv,
    /// Sender.
    pub from: Address,
    /// Recipient; empty for a contract creation.
    pub to: Bytes,
    /// Value in wei.
    pub value: U256,
    /// Call data or init code.
    pub data: Bytes,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas price (0: no fee is charged and no balance is needed for gas).
    pub gas_price: u128,
    /// The EIP-2930 access list, RLP-encoded as in a transaction.
    pub access_list: Option<Bytes>,
    /// The EIP-7702 authorization list, RLP-encoded as in a type-4 transaction: the
    /// message is executed as a set-code transaction.
    pub authorization_list: Option<Bytes>,
}

/// Output of `molt_execute_call`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CallOutput {
    /// 0 success, 1 reverted, 2 halted (out of gas, invalid opcode, …), 3 invalid
    /// (see `message`).
    pub status: u8,
    /// Gas used.
    pub gas_used: u64,
    /// Return or revert data.
    pub output: Bytes,
    /// Logs the call would emit.
    pub logs: Vec<Log>,
    /// Why it halted or was invalid; empty otherwise.
    pub message: String,
}

/// Input of `molt_execute_trace`, an optional export: a block's transactions, or a
/// message, executed again on the state before them with a tracer, committing nothing.
/// The last field is optional: a host may end the list before it.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct TraceInput {
    /// The block the transactions are in (and the message runs in, unless `call`
    /// carries its own).
    pub env: BlockEnv,
    /// The block's hash, which the traces report.
    pub block_hash: B256,
    /// Transactions in order, each committed before the next, in their EIP-2718
    /// encoding: the block's, or the first ones of it.
    pub txs: Vec<Bytes>,
    /// Index of the first transaction traced; those before it only run.
    pub traced_from: u64,
    /// What to report: one of [`trace`].
    pub style: u8,
    /// [`trace::TRACE`]: geth's tracing options as JSON (`{"tracer":"callTracer"}`,
    /// …); empty for geth's default (struct logs).
    pub options: Bytes,
    /// Whether the chain takes impersonated transactions, as in [`BlockInput`].
    pub impersonation: bool,
    /// A message run after the transactions instead of tracing them
    /// (`debug_traceCall`, `eth_createAccessList`), in its own environment.
    pub call: Option<CallInput>,
}

/// What `molt_execute_trace` reports, the [`TraceInput::style`]; its output is an RLP
/// list of JSON texts, one per traced transaction or message.
pub mod trace {
    /// A trace per transaction as geth's `debug_trace*` give it for the tracer the
    /// options name (struct logs, `callTracer`, `prestateTracer`, `4byteTracer`,
    /// `flatCallTracer` — Parity's `trace_transaction` — …).
    pub const TRACE: u8 = 0;
    /// The message's access list as `eth_createAccessList` gives it: `{accessList,
    /// gasUsed, error?}`, found by running it until the list it touches is the list
    /// it was given.
    pub const ACCESS_LIST: u8 = 1;
}

impl Encodable for TxOutcome {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        let (tag, body_len) = match self {
            TxOutcome::Included(r) => (0u8, r.length()),
            TxOutcome::Rejected(r) => (1u8, r.length()),
        };
        Header {
            list: true,
            payload_length: tag.length() + body_len,
        }
        .encode(out);
        tag.encode(out);
        match self {
            TxOutcome::Included(r) => r.encode(out),
            TxOutcome::Rejected(r) => r.encode(out),
        }
    }

    fn length(&self) -> usize {
        let body = 1 + match self {
            TxOutcome::Included(r) => r.length(),
            TxOutcome::Rejected(r) => r.length(),
        };
        Header {
            list: true,
            payload_length: body,
        }
        .length()
            + body
    }
}

impl Decodable for TxOutcome {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let header = Header::decode(buf)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let (mut body, rest) = buf
            .split_at_checked(header.payload_length)
            .ok_or(alloy_rlp::Error::InputTooShort)?;
        let outcome = match u8::decode(&mut body)? {
            0 => TxOutcome::Included(Receipt::decode(&mut body)?),
            1 => TxOutcome::Rejected(Rejection::decode(&mut body)?),
            _ => return Err(alloy_rlp::Error::Custom("unknown outcome tag")),
        };
        if !body.is_empty() {
            return Err(alloy_rlp::Error::ListLengthMismatch {
                expected: header.payload_length,
                got: header.payload_length - body.len(),
            });
        }
        *buf = rest;
        Ok(outcome)
    }
}

/// Encodes any payload to bytes.
pub fn encode<T: Encodable>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.length());
    value.encode(&mut out);
    out
}

/// Decodes a payload, refusing trailing bytes.
pub fn decode<T: Decodable>(mut bytes: &[u8]) -> alloy_rlp::Result<T> {
    let value = T::decode(&mut bytes)?;
    if !bytes.is_empty() {
        return Err(alloy_rlp::Error::Custom("trailing bytes"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloy_primitives::{address, b256, bytes};

    #[test]
    fn block_output_round_trips() {
        let out = BlockOutput {
            outcomes: vec![
                TxOutcome::Included(Receipt {
                    tx_type: 2,
                    success: true,
                    gas_used: 21_000,
                    cumulative_gas_used: 21_000,
                    logs: vec![Log::new_unchecked(
                        address!("00000000000000000000000000000000000000aa"),
                        vec![b256!(
                            "00000000000000000000000000000000000000000000000000000000000000bb"
                        )],
                        bytes!("cafe"),
                    )],
                    ..Receipt::default()
                }),
                TxOutcome::Rejected(Rejection {
                    code: reject::NONCE_TOO_LOW.into(),
                    message: "nonce 0 < 1".into(),
                }),
            ],
            gas_used: 21_000,
            accounts: vec![AccountChange {
                info: AccountInfo {
                    nonce: 1,
                    ..AccountInfo::default()
                },
                storage: vec![StorageChange {
                    slot: U256::from(1),
                    value: U256::from(2),
                }],
                ..AccountChange::default()
            }],
            codes: vec![],
        };
        let bytes = encode(&out);
        assert_eq!(decode::<BlockOutput>(&bytes), Ok(out));
        assert!(decode::<BlockOutput>(&bytes[..bytes.len() - 1]).is_err());
    }
}
