//! A block as it travels between validators — in proposal parts and in block sync:
//! the RLP list of its header and its EIP-2718 transactions. Senders and receipts are
//! not sent: every validator recomputes them by executing the block.

use alloy_consensus::Header;
use alloy_primitives::Bytes;
use alloy_rlp::{RlpDecodable, RlpEncodable};
use molt_storage::SealedBlock;

#[derive(RlpEncodable, RlpDecodable)]
struct WireBlock {
    header: Header,
    transactions: Vec<Bytes>,
}

/// The bytes of `block`.
pub fn encode(block: &SealedBlock) -> Vec<u8> {
    alloy_rlp::encode(WireBlock {
        header: block.header.clone(),
        transactions: block.transactions.clone(),
    })
}

/// The block in `bytes`, its hash computed, without senders or receipts (execution
/// supplies them).
pub fn decode(mut bytes: &[u8]) -> Result<SealedBlock, alloy_rlp::Error> {
    let wire = <WireBlock as alloy_rlp::Decodable>::decode(&mut bytes)?;
    if !bytes.is_empty() {
        return Err(alloy_rlp::Error::Custom("trailing bytes after the block"));
    }
    Ok(SealedBlock {
        hash: wire.header.hash_slow(),
        header: wire.header,
        transactions: wire.transactions,
        senders: Vec::new(),
        receipts: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_round_trips_with_its_hash_and_garbage_is_refused() {
        let header = Header {
            number: 7,
            timestamp: 1_700_000_000,
            gas_limit: 30_000_000,
            ..Header::default()
        };
        let block = SealedBlock {
            hash: header.hash_slow(),
            header,
            transactions: vec![Bytes::from_static(&[2, 1, 2, 3])],
            senders: Vec::new(),
            receipts: Vec::new(),
        };
        let bytes = encode(&block);
        assert_eq!(decode(&bytes).expect("decode"), block);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&[bytes.as_slice(), &[0x80]].concat()).is_err());
    }
}
