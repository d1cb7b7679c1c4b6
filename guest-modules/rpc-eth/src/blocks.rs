//! Blocks, transactions, receipts and logs: fetched through the chain queries and
//! shaped as alloy's RPC types.

use alloy_consensus::{Header, ReceiptEnvelope, Transaction as _, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{B256, Bytes, U256, keccak256};
use alloy_rpc_types_eth::{
    Block, BlockTransactions, Log, Transaction, TransactionReceipt, Withdrawals,
};
use molt_abi::imports::ChainHost;
use molt_abi::rpc::{BlockQuery, BodyTx, ChainInfo, ChainQueries, TxLocation};

use crate::RpcError;

/// A block as stored by the node: header, hash and transactions with their senders.
pub struct Stored {
    pub header: Header,
    pub hash: B256,
    pub header_rlp: Bytes,
    pub txs: Vec<(BodyTx, TxEnvelope)>,
}

/// The node's chain info.
pub fn info(host: &(impl ChainHost + ?Sized)) -> Result<ChainInfo, RpcError> {
    Ok(host.chain_info()?)
}

/// The number a tag or number stands for (`None`: beyond the head).
pub fn number_of(tag: BlockNumberOrTag, head: u64) -> Option<u64> {
    match tag {
        BlockNumberOrTag::Number(n) if n > head => None,
        BlockNumberOrTag::Number(n) => Some(n),
        BlockNumberOrTag::Earliest => Some(0),
        BlockNumberOrTag::Latest
        | BlockNumberOrTag::Pending
        | BlockNumberOrTag::Safe
        | BlockNumberOrTag::Finalized => Some(head),
    }
}

/// The number of the block `id` names, if the node has it.
pub fn resolve(host: &(impl ChainHost + ?Sized), id: BlockId) -> Result<Option<u64>, RpcError> {
    match id {
        BlockId::Number(tag) => Ok(number_of(tag, info(host)?.head)),
        BlockId::Hash(h) => Ok(header(host, BlockQuery::hash(h.block_hash))?.map(|s| s.0.number)),
    }
}

/// A header and its RLP, if the node has the block.
pub fn header(
    host: &(impl ChainHost + ?Sized),
    q: BlockQuery,
) -> Result<Option<(Header, Bytes)>, RpcError> {
    let Some(rlp) = host.header(&q)? else {
        return Ok(None);
    };
    let header: Header = molt_abi::execution::decode(&rlp).map_err(RpcError::internal)?;
    Ok(Some((header, rlp)))
}

/// Block `number` with its transactions, if the node has it.
pub fn load(host: &(impl ChainHost + ?Sized), number: u64) -> Result<Option<Stored>, RpcError> {
    let Some((header, header_rlp)) = header(host, BlockQuery::number(number))? else {
        return Ok(None);
    };
    let body = host.body(number)?.unwrap_or_default();
    let txs = body
        .into_iter()
        .map(|b| {
            let tx = TxEnvelope::decode_2718_exact(&b.raw).map_err(RpcError::internal)?;
            Ok((b, tx))
        })
        .collect::<Result<Vec<_>, RpcError>>()?;
    Ok(Some(Stored {
        hash: keccak256(&header_rlp),
        header,
        header_rlp,
        txs,
    }))
}

/// The receipts of block `number`.
pub fn receipts(
    host: &(impl ChainHost + ?Sized),
    number: u64,
) -> Result<Vec<ReceiptEnvelope>, RpcError> {
    let raw = host.receipts(number)?.unwrap_or_default();
    raw.iter()
        .map(|r| ReceiptEnvelope::decode_2718_exact(r).map_err(RpcError::internal))
        .collect()
}

/// Where transaction `hash` was included.
pub fn location(
    host: &(impl ChainHost + ?Sized),
    hash: B256,
) -> Result<Option<TxLocation>, RpcError> {
    Ok(host.tx_location(&hash)?)
}

/// A pending transaction (in the node's pool, not yet in a block) in RPC form, as geth
/// answers it: no block fields, the fee cap as its gas price.
pub fn pooled(
    host: &(impl ChainHost + ?Sized),
    hash: B256,
) -> Result<Option<Transaction>, RpcError> {
    host.pool_tx(&hash)?
        .map(|body| pooled_tx(&body))
        .transpose()
}

/// [`pooled`] for a transaction already in hand.
pub fn pooled_tx(body: &BodyTx) -> Result<Transaction, RpcError> {
    let tx = TxEnvelope::decode_2718_exact(&body.raw).map_err(RpcError::internal)?;
    Ok(Transaction {
        effective_gas_price: Some(tx.max_fee_per_gas()),
        inner: alloy_consensus::transaction::Recovered::new_unchecked(tx, body.sender),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        block_timestamp: None,
    })
}

impl Stored {
    /// Transaction `index` in RPC form.
    pub fn rpc_tx(&self, index: usize) -> Option<Transaction> {
        let (body, tx) = self.txs.get(index)?;
        Some(Transaction {
            effective_gas_price: Some(tx.effective_gas_price(self.header.base_fee_per_gas)),
            inner: alloy_consensus::transaction::Recovered::new_unchecked(tx.clone(), body.sender),
            block_hash: Some(self.hash),
            block_number: Some(self.header.number),
            transaction_index: Some(index as u64),
            block_timestamp: Some(self.header.timestamp),
        })
    }

    /// The block in RPC form, with full transactions or their hashes.
    pub fn rpc_block(&self, full: bool) -> Block {
        let transactions = if full {
            BlockTransactions::Full((0..self.txs.len()).filter_map(|i| self.rpc_tx(i)).collect())
        } else {
            BlockTransactions::Hashes(self.txs.iter().map(|(_, t)| *t.tx_hash()).collect())
        };
        Block {
            header: alloy_rpc_types_eth::Header {
                hash: self.hash,
                inner: self.header.clone(),
                total_difficulty: Some(U256::ZERO),
                size: Some(U256::from(self.size())),
            },
            uncles: Vec::new(),
            transactions,
            withdrawals: Some(Withdrawals::default()),
        }
    }

    /// The RLP size of the block `[header, transactions, ommers, withdrawals]`.
    fn size(&self) -> usize {
        let txs: usize = self
            .txs
            .iter()
            .map(|(_, t)| {
                let len = t.encode_2718_len();
                // A typed transaction is an RLP string inside the list.
                if t.is_legacy() {
                    len
                } else {
                    len + alloy_rlp::length_of_length(len)
                }
            })
            .sum();
        let list = |payload: usize| payload + alloy_rlp::length_of_length(payload);
        list(self.header_rlp.len() + list(txs) + list(0) + list(0))
    }

    /// The receipts of this block in RPC form, with their logs numbered.
    pub fn rpc_receipts(&self, receipts: Vec<ReceiptEnvelope>) -> Vec<TransactionReceipt> {
        let mut out = Vec::with_capacity(receipts.len());
        let mut log_index = 0u64;
        let mut prev_cumulative = 0u64;
        for (i, (receipt, (body, tx))) in receipts.into_iter().zip(&self.txs).enumerate() {
            let cumulative = receipt.cumulative_gas_used();
            let tx_hash = *tx.tx_hash();
            let inner = receipt.map_logs(|inner| {
                let log = Log {
                    inner,
                    block_hash: Some(self.hash),
                    block_number: Some(self.header.number),
                    block_timestamp: Some(self.header.timestamp),
                    transaction_hash: Some(tx_hash),
                    transaction_index: Some(i as u64),
                    log_index: Some(log_index),
                    removed: false,
                };
                log_index += 1;
                log
            });
            let contract_address = tx
                .kind()
                .is_create()
                .then(|| body.sender.create(tx.nonce()));
            out.push(TransactionReceipt {
                inner,
                transaction_hash: tx_hash,
                transaction_index: Some(i as u64),
                block_hash: Some(self.hash),
                block_number: Some(self.header.number),
                gas_used: cumulative.saturating_sub(prev_cumulative),
                effective_gas_price: tx.effective_gas_price(self.header.base_fee_per_gas),
                blob_gas_used: None,
                blob_gas_price: None,
                from: body.sender,
                to: tx.to(),
                contract_address,
            });
            prev_cumulative = cumulative;
        }
        out
    }
}
