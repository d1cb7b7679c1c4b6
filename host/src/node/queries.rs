//! The node's answers to the `rpc` kind's chain queries (`molt_abi::rpc`).
//!
//! Everything an rpc module may learn or do passes through [`Queries::query`]: reads of
//! blocks and state from the database, calls on the execution module, submissions to
//! the pool, signatures with the unlocked dev keys and, on a dev node, the dev helpers.

use std::sync::{Arc, Mutex};

use alloy_primitives::{Address, B256, Bytes};
use molt_abi::execution::decode;
use molt_abi::rpc::{
    self, AccountState, BlockQuery, BodyTx, CallRequest, ChainInfo, MineRequest, SetBalance,
    SignRequest, StorageQuery, TxLocation, op,
};

use super::clock::now;
use crate::chain::ChainError;
use crate::chain::driver::{CallLimits, Chain, DevSnapshot};
use crate::execution::ExecError;
use crate::signer::Signer;
use molt_runtime::CallError;
use molt_runtime::services::ChainService;
use molt_storage::state::StateView;

/// The chain as the rpc module sees it.
pub struct Queries {
    chain: Arc<Chain>,
    signers: Vec<Signer>,
    dev: bool,
    limits: CallLimits,
    /// `evm_snapshot` ids and what each remembers, oldest first.
    snapshots: Mutex<(u64, Vec<(u64, DevSnapshot)>)>,
}

impl std::fmt::Debug for Queries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queries")
            .field("dev", &self.dev)
            .finish_non_exhaustive()
    }
}

/// Why a query could not be answered; its text goes to the JSON-RPC client.
type Answer = Result<Vec<u8>, String>;

fn bad_args(e: alloy_rlp::Error) -> String {
    format!("malformed chain query: {e}")
}

impl Queries {
    /// Queries over `chain`, signing for `signers`; `dev` enables the dev helpers;
    /// calls (`eth_call`, gas estimation) run within `limits`.
    pub fn new(chain: Arc<Chain>, signers: Vec<Signer>, dev: bool, limits: CallLimits) -> Self {
        Queries {
            chain,
            signers,
            dev,
            limits,
            snapshots: Mutex::new((0, Vec::new())),
        }
    }

    fn answer(&self, op: u8, args: &[u8]) -> Answer {
        let chain = &self.chain;
        let db = chain.db();
        // A block is visible once it is the head (committed and flushed), never while
        // it is being written.
        let head = chain.head_number();
        let fail = |e: &dyn std::fmt::Display| e.to_string();
        match op {
            op::CHAIN_INFO => {
                let env = chain.next_env(0);
                Ok(rpc::ok(&ChainInfo {
                    chain_id: chain.config().chain_id,
                    head,
                    gas_limit: env.gas_limit,
                    next_base_fee: env.base_fee,
                    dev: self.dev,
                }))
            }
            op::HEADER => {
                let q: BlockQuery = decode(args).map_err(bad_args)?;
                let number = if q.by_hash {
                    match db.block_number(&q.hash).map_err(|e| fail(&e))? {
                        Some(n) => n,
                        None => return Ok(rpc::not_found()),
                    }
                } else {
                    q.number
                };
                if number > head {
                    return Ok(rpc::not_found());
                }
                match db.header(number).map_err(|e| fail(&e))? {
                    Some(h) => Ok(rpc::ok(&Bytes::from(alloy_rlp::encode(&h)))),
                    None => Ok(rpc::not_found()),
                }
            }
            op::BODY => {
                let number: u64 = decode(args).map_err(bad_args)?;
                if number > head {
                    return Ok(rpc::not_found());
                }
                let (Some(txs), Some(senders)) = (
                    db.transactions(number).map_err(|e| fail(&e))?,
                    db.senders(number).map_err(|e| fail(&e))?,
                ) else {
                    return Ok(rpc::not_found());
                };
                let body: Vec<BodyTx> = txs
                    .into_iter()
                    .zip(senders)
                    .map(|(raw, sender)| BodyTx { sender, raw })
                    .collect();
                Ok(rpc::ok(&body))
            }
            op::RECEIPTS => {
                use alloy_eips::eip2718::Encodable2718;
                let number: u64 = decode(args).map_err(bad_args)?;
                if number > head {
                    return Ok(rpc::not_found());
                }
                let Some(receipts) = db.receipts(number).map_err(|e| fail(&e))? else {
                    return Ok(rpc::not_found());
                };
                let encoded: Vec<Bytes> =
                    receipts.iter().map(|r| r.encoded_2718().into()).collect();
                Ok(rpc::ok(&encoded))
            }
            op::POOL_TX => {
                let hash: B256 = decode(args).map_err(bad_args)?;
                Ok(match chain.pooled(&hash) {
                    Some(tx) => rpc::ok(&BodyTx {
                        sender: tx.sender,
                        raw: tx.raw,
                    }),
                    None => rpc::not_found(),
                })
            }
            op::TX_LOCATION => {
                let hash: B256 = decode(args).map_err(bad_args)?;
                match db.transaction_location(&hash).map_err(|e| fail(&e))? {
                    Some((number, index)) if number <= head => Ok(rpc::ok(&TxLocation {
                        number,
                        index: index.into(),
                    })),
                    _ => Ok(rpc::not_found()),
                }
            }
            op::ACCOUNT => {
                let address: Address = decode(args).map_err(bad_args)?;
                let account = db.account(&address).map_err(|e| fail(&e))?;
                Ok(rpc::ok(&account.map_or(
                    AccountState {
                        code_hash: alloy_trie::KECCAK_EMPTY,
                        ..AccountState::default()
                    },
                    |a| AccountState {
                        balance: a.balance,
                        nonce: a.nonce,
                        code_hash: a.code_hash,
                    },
                )))
            }
            op::STORAGE => {
                let q: StorageQuery = decode(args).map_err(bad_args)?;
                Ok(rpc::ok(
                    &db.storage(&q.address, &q.slot).map_err(|e| fail(&e))?,
                ))
            }
            op::CODE => {
                let address: Address = decode(args).map_err(bad_args)?;
                let code = match db.account(&address).map_err(|e| fail(&e))? {
                    Some(a) => db.code(&a.code_hash).map_err(|e| fail(&e))?,
                    None => None,
                };
                Ok(rpc::ok(&code.unwrap_or_default()))
            }
            op::CALL => {
                let request: CallRequest = decode(args).map_err(bad_args)?;
                let out = chain
                    .call_limited(now(), &request, &self.limits)
                    .map_err(|e| match (e, self.limits.timeout) {
                        (ChainError::Exec(ExecError::Call(CallError::Timeout { .. })), Some(t)) => {
                            format!("execution aborted (timeout = {t:?})")
                        }
                        (e, _) => fail(&e),
                    })?;
                Ok(rpc::ok(&out))
            }
            op::SEND_RAW => {
                let raw: Bytes = decode(args).map_err(bad_args)?;
                let hash = chain.submit(raw).map_err(|e| fail(&e))?;
                Ok(rpc::ok(&hash))
            }
            op::PENDING_NONCE => {
                let address: Address = decode(args).map_err(bad_args)?;
                Ok(rpc::ok(
                    &chain.pending_nonce(&address).map_err(|e| fail(&e))?,
                ))
            }
            op::ACCOUNTS => {
                let accounts: Vec<Address> = self.signers.iter().map(Signer::address).collect();
                Ok(rpc::ok(&accounts))
            }
            op::SIGN => {
                let q: SignRequest = decode(args).map_err(bad_args)?;
                let signer = self
                    .signers
                    .iter()
                    .find(|s| s.address() == q.address)
                    .ok_or_else(|| format!("unknown account {}", q.address))?;
                Ok(rpc::ok(&Bytes::from(signer.sign_hash(&q.hash).to_vec())))
            }
            op::MINE | op::SNAPSHOT | op::REVERT | op::SET_BALANCE if !self.dev => {
                Err("dev methods are disabled on this node".into())
            }
            op::MINE => {
                let q: MineRequest = decode(args).map_err(bad_args)?;
                let mut timestamp = if q.timestamp == 0 { now() } else { q.timestamp };
                for _ in 0..q.blocks.max(1) {
                    let block = chain.mine(timestamp).map_err(|e| fail(&e))?;
                    timestamp = block.header.timestamp + 1;
                }
                Ok(rpc::ok(&chain.head_number()))
            }
            op::SNAPSHOT => {
                let mut snapshots = super::lock(&self.snapshots);
                snapshots.0 += 1;
                let id = snapshots.0;
                snapshots.1.push((id, chain.dev_snapshot()));
                Ok(rpc::ok(&id))
            }
            op::REVERT => {
                let id: u64 = decode(args).map_err(bad_args)?;
                let mut snapshots = super::lock(&self.snapshots);
                let Some(i) = snapshots.1.iter().position(|(s, _)| *s == id) else {
                    return Ok(rpc::ok(&false));
                };
                chain
                    .revert_to_snapshot(&snapshots.1[i].1)
                    .map_err(|e| fail(&e))?;
                snapshots.1.truncate(i);
                Ok(rpc::ok(&true))
            }
            op::SET_BALANCE => {
                let q: SetBalance = decode(args).map_err(bad_args)?;
                chain
                    .set_balance(q.address, q.balance)
                    .map_err(|e| fail(&e))?;
                Ok(rpc::ok(&molt_abi::rpc::NoArgs {}))
            }
            other => Err(format!("unknown chain query {other}")),
        }
    }
}

impl ChainService for Queries {
    fn query(&self, request: &[u8]) -> Vec<u8> {
        let Some((op, args)) = rpc::split_request(request) else {
            return rpc::err("empty chain query");
        };
        self.answer(op, args).unwrap_or_else(|e| rpc::err(&e))
    }
}
