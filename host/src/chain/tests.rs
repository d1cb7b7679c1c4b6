//! A block built from real signed transactions, committed, read back after a reopen.

use alloy_consensus::TxLegacy;
use alloy_primitives::{Address, TxKind, U256, address, keccak256};
use molt_abi::execution::{AccountChange, AccountInfo};

use super::*;
use crate::signer::Signer;

const GWEI: u64 = 1_000_000_000;

fn signer() -> Signer {
    let secret = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    Signer::from_secret(&secret.parse().unwrap()).unwrap()
}

fn transfer(nonce: u64, to: Address) -> Bytes {
    signer().sign(TxLegacy {
        chain_id: Some(31337),
        nonce,
        gas_price: 2 * GWEI as u128,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value: U256::from(1000 + nonce),
        input: Bytes::new(),
    })
}

#[test]
fn a_committed_block_reads_back_consistently_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let env = BlockEnv {
        spec: "Cancun".into(),
        chain_id: 31337,
        number: 1,
        timestamp: 1_700_000_012,
        coinbase: address!("00000000000000000000000000000000000000c0"),
        gas_limit: 30_000_000,
        base_fee: GWEI,
        ..BlockEnv::default()
    };
    let recipient = address!("00000000000000000000000000000000000000b0");
    let txs = vec![
        transfer(0, recipient),
        transfer(5, recipient), // nonce gap: rejected, not in the block
        transfer(1, recipient),
    ];
    let (block, stored_root) = {
        let db = crate::storage::Db::open(dir.path()).unwrap();
        let alloc = AccountChange {
            address: signer().address(),
            info: AccountInfo {
                nonce: 0,
                balance: U256::from(10u128.pow(21)),
                code_hash: alloy_trie::KECCAK_EMPTY,
            },
            ..AccountChange::default()
        };
        db.apply(0, B256::ZERO, &[alloc], &[]).unwrap();
        let (block, out) = build_block(&db, &Executor::Native, None, env, txs.clone()).unwrap();
        db.commit_block(&block, &out.accounts, &out.codes).unwrap();
        db.flush().unwrap();
        (block, db.state_root().unwrap())
    };

    assert_eq!(block.transactions, vec![txs[0].clone(), txs[2].clone()]);
    assert_eq!(block.header.gas_used, 42_000);
    assert_eq!(block.header.state_root, stored_root);

    let db = crate::storage::Db::open(dir.path()).unwrap();
    assert_eq!(db.head().unwrap(), Some(1));
    let header = db.header(1).unwrap().unwrap();
    assert_eq!(header.hash_slow(), block.hash);
    assert_eq!(db.block_number(&block.hash).unwrap(), Some(1));
    assert_eq!(db.state_root().unwrap(), header.state_root);
    let receipts = db.receipts(1).unwrap().unwrap();
    assert_eq!(calculate_receipt_root(&receipts), header.receipts_root);
    assert_eq!(receipts[1].cumulative_gas_used(), 42_000);
    assert_eq!(db.transactions(1).unwrap().unwrap(), block.transactions);
    assert_eq!(
        db.transaction_location(&keccak256(&txs[2])).unwrap(),
        Some((1, 1))
    );
    assert_eq!(db.transaction_location(&keccak256(&txs[1])).unwrap(), None);
}
