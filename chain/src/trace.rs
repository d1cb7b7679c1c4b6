//! Transactions and messages executed again with a tracer (`debug_trace*`, `trace_*`,
//! `eth_createAccessList`). The execution module in force at the block does the
//! tracing (its `molt_execute_trace`), on the state before the block, so a WebAssembly
//! module and its native twin answer alike; this side only gathers the inputs.

use std::sync::Arc;

use alloy_primitives::Bytes;
use molt_abi::Kind;
use molt_abi::execution::{TraceInput, trace};
use molt_abi::rpc::CallAt;
use molt_runtime::EngineError;
use molt_storage::state::StateView;

use crate::chain::{CallLimits, Chain};
use crate::error::ChainError;

impl Chain {
    /// Traces the transactions of block `number` with geth's tracing `options` (JSON,
    /// empty for struct logs): all of them, or only the one at index `tx` (those
    /// before it run untraced). One JSON trace per traced transaction.
    pub fn trace_block(
        &self,
        number: u64,
        tx: Option<u64>,
        options: &Bytes,
        limits: &CallLimits,
    ) -> Result<Vec<Bytes>, ChainError> {
        if number == 0 {
            return Err(ChainError::Genesis);
        }
        let mut txs = self
            .db
            .transactions(number)?
            .ok_or(ChainError::NoSuchBlock(number))?;
        let traced_from = match tx {
            Some(index) if index >= txs.len() as u64 => {
                return Err(ChainError::NoSuchTx {
                    block: number,
                    index,
                });
            }
            Some(index) => {
                txs.truncate(index as usize + 1);
                index
            }
            None => 0,
        };
        let header = self.kept_header(number)?;
        let input = TraceInput {
            env: crate::block::env_of(&self.config.spec, self.config.chain_id, &header),
            block_hash: self.kept_hash(number)?,
            txs,
            traced_from,
            style: trace::TRACE,
            options: options.clone(),
            impersonation: self.config.impersonation,
            call: None,
        };
        let state = Arc::new(self.db.state_at(number - 1)?);
        Ok(self
            .executor_at(number)?
            .execute_trace(state, &input, limits.timeout)?)
    }

    /// Runs a message as [`call_at`](Self::call_at) does, traced with geth's `options`
    /// ([`trace::TRACE`]) or for its access list ([`trace::ACCESS_LIST`]); the one
    /// JSON answer.
    pub fn trace_call(
        &self,
        call: &CallAt,
        style: u8,
        options: &Bytes,
        limits: &CallLimits,
    ) -> Result<Bytes, ChainError> {
        let (executor, state, message) = self.message_at(call, limits)?;
        let input = TraceInput {
            env: message.env.clone(),
            block_hash: self.kept_hash(call.block)?,
            txs: Vec::new(),
            traced_from: 0,
            style,
            options: options.clone(),
            impersonation: self.config.impersonation,
            call: Some(message),
        };
        let mut traces = executor.execute_trace(state, &input, limits.timeout)?;
        match (traces.pop(), traces.is_empty()) {
            (Some(answer), true) => Ok(answer),
            _ => Err(ChainError::Exec(EngineError::Output {
                kind: Kind::Execution,
                reason: format!("{} answers to one message", traces.len() + 1),
            })),
        }
    }

    fn kept_hash(&self, number: u64) -> Result<alloy_primitives::B256, ChainError> {
        StateView::block_hash(&self.db, number)?.ok_or(ChainError::NoSuchBlock(number))
    }
}
