//! A block built from real signed transactions, committed, read back after a reopen.

use alloy_consensus::TxLegacy;
use alloy_primitives::{Address, TxKind, U256, address, keccak256};
use molt_abi::execution::{AccountChange, AccountInfo};

use alloy_consensus::proofs::calculate_receipt_root;
use alloy_primitives::{B256, Bytes};
use molt_abi::execution::{BlockEnv, BlockInput};
use molt_chain::block::build_block;
use molt_chain::signer::Signer;

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
        let db = molt_storage::Db::open(dir.path()).unwrap();
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
        let (block, _, update) = build_block(
            &db,
            &crate::builtin::native_executor(),
            B256::ZERO,
            &BlockInput {
                env,
                txs: txs.clone(),
                impersonation: None,
            },
            &Default::default(),
        )
        .unwrap();
        db.commit_block(&block, b"seal", &update).unwrap();
        db.flush().unwrap();
        (block, db.state_root().unwrap())
    };

    assert_eq!(block.transactions, vec![txs[0].clone(), txs[2].clone()]);
    assert_eq!(block.header.gas_used, 42_000);
    assert_eq!(block.header.state_root, stored_root);

    let db = molt_storage::Db::open(dir.path()).unwrap();
    assert_eq!(db.head().unwrap(), Some(1));
    let header = db.header(1).unwrap().unwrap();
    assert_eq!(header.hash_slow(), block.hash);
    assert_eq!(db.block_number(&block.hash).unwrap(), Some(1));
    assert_eq!(db.state_root().unwrap(), header.state_root);
    let receipts = db.receipts(1).unwrap().unwrap();
    assert_eq!(calculate_receipt_root(&receipts), header.receipts_root);
    assert_eq!(receipts[1].cumulative_gas_used(), 42_000);
    assert_eq!(db.transactions(1).unwrap().unwrap(), block.transactions);
    assert_eq!(db.seal(1).unwrap().unwrap().as_ref(), b"seal");
    assert_eq!(
        db.transaction_location(&keccak256(&txs[2])).unwrap(),
        Some((1, 1))
    );
    assert_eq!(db.transaction_location(&keccak256(&txs[1])).unwrap(), None);
}

mod driver {
    use alloy_consensus::TxEip1559;
    use alloy_primitives::{TxKind, U256, address};
    use ed25519_dalek::{Signature, SigningKey, Verifier};

    use super::*;
    use molt_chain::pool::PoolError;
    use molt_chain::{Chain, ChainConfig};
    use molt_storage::state::StateView;

    const ETH: u128 = 1_000_000_000_000_000_000;

    fn open(dir: &std::path::Path) -> Chain {
        let alloc: Vec<_> = crate::dev_accounts::signers(3)
            .unwrap()
            .iter()
            .map(|s| (s.address(), U256::from(10_000 * ETH)))
            .collect();
        let db = molt_storage::Db::open(dir).unwrap();
        crate::builtin::native_chain(
            db,
            ChainConfig::dev(),
            SigningKey::from_bytes(&[7; 32]),
            &alloc,
        )
        .unwrap()
    }

    fn pay(from: &Signer, nonce: u64, to: Address, value: u128) -> Bytes {
        from.sign(TxEip1559 {
            chain_id: 31337,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 3_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(to),
            value: U256::from(value),
            access_list: Default::default(),
            input: Bytes::new(),
        })
    }

    #[test]
    fn submitted_transactions_are_mined_sealed_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = crate::dev_accounts::signers(2).unwrap();
        let bob = address!("000000000000000000000000000000000000b0b0");
        let (hash1, block1) = {
            let chain = open(dir.path());
            let genesis = chain.head();
            assert_eq!(genesis.header.number, 0);
            assert_eq!(genesis.header.state_root, chain.db().state_root().unwrap());

            for nonce in 0..3 {
                chain.submit(pay(&accounts[0], nonce, bob, ETH)).unwrap();
            }
            chain.submit(pay(&accounts[1], 0, bob, 2 * ETH)).unwrap();
            assert_eq!(chain.pool_len(), 4);
            let block = chain.mine(1_700_000_000).unwrap();
            assert_eq!(block.transactions.len(), 4);
            assert_eq!(block.header.parent_hash, genesis.hash);
            assert_eq!(chain.pool_len(), 0);
            assert_eq!(
                chain.submit(pay(&accounts[0], 1, bob, ETH)),
                Err(PoolError::NonceTooLow { next: 3, got: 1 })
            );
            let envelopes: Vec<alloy_consensus::TxEnvelope> = block
                .transactions
                .iter()
                .map(|t| alloy_eips::eip2718::Decodable2718::decode_2718_exact(t).unwrap())
                .collect();
            assert_eq!(
                block.header.transactions_root,
                alloy_consensus::proofs::calculate_transaction_root(&envelopes)
            );
            // EIP-1559: a block far below its target lowers the next base fee.
            assert!(chain.next_env(0).base_fee < 1_000_000_000);
            (block.hash, block)
        };

        let chain = open(dir.path());
        assert_eq!(chain.head().hash, hash1);
        let bob_account = chain.db().account(&bob).unwrap().unwrap();
        assert_eq!(bob_account.balance, U256::from(5 * ETH));
        let seal = chain.db().seal(1).unwrap().unwrap();
        let key = ed25519_dalek::VerifyingKey::from_bytes(seal[64..].try_into().unwrap()).unwrap();
        let signature = Signature::from_slice(&seal[..64]).unwrap();
        assert!(key.verify(block1.hash.as_slice(), &signature).is_ok());

        chain.submit(pay(&accounts[0], 3, bob, ETH)).unwrap();
        let block2 = chain.mine(1_700_000_012).unwrap();
        assert_eq!(block2.header.number, 2);
        assert_eq!(block2.header.parent_hash, hash1);
        assert_eq!(block2.header.state_root, chain.db().state_root().unwrap());
    }

    #[test]
    fn history_re_executes_to_the_stored_blocks_and_an_edit_outside_a_block_shows() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = crate::dev_accounts::signers(2).unwrap();
        let bob = address!("000000000000000000000000000000000000b0b0");
        let chain = open(dir.path());
        // A contract that stores BLOCKHASH(NUMBER - 1): re-execution needs the hashes
        // of the blocks it re-executed.
        let init = Bytes::from_static(&[
            0x60, 0x08, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x08, 0x60, 0x00,
            0xf3, // copy 8 bytes of runtime, return it
            0x60, 0x01, 0x43, 0x03, 0x40, 0x43, 0x55,
            0x00, // sstore(number, blockhash(number - 1))
        ]);
        let create = accounts[1].sign(alloy_consensus::TxEip1559 {
            chain_id: 31337,
            nonce: 0,
            gas_limit: 100_000,
            max_fee_per_gas: 3_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Create,
            value: U256::ZERO,
            access_list: Default::default(),
            input: init,
        });
        chain.submit(create).unwrap();
        chain.mine(1_700_000_000).unwrap();
        let contract = alloy_primitives::Address::create(&accounts[1].address(), 0);
        for nonce in 0..4 {
            chain.submit(pay(&accounts[0], nonce, bob, ETH)).unwrap();
            let poke = accounts[1].sign(alloy_consensus::TxEip1559 {
                chain_id: 31337,
                nonce: nonce + 1,
                gas_limit: 60_000,
                max_fee_per_gas: 3_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                to: TxKind::Call(contract),
                value: U256::ZERO,
                access_list: Default::default(),
                input: Bytes::new(),
            });
            chain.submit(poke).unwrap();
            chain.mine(1_700_000_001 + nonce).unwrap();
        }
        let stored = chain.db().storage(&contract, &U256::from(5)).unwrap();
        assert_eq!(
            stored,
            U256::from_be_bytes(chain.db().header(4).unwrap().unwrap().hash_slow().0)
        );
        let report = chain.verify_history(1, 5).unwrap();
        assert_eq!((report.blocks, report.transactions), (5, 9), "{report:?}");
        assert_eq!(report.mismatch, None);
        // From the middle, too.
        assert_eq!(chain.verify_history(3, 5).unwrap().blocks, 3);

        // A balance set outside any block (anvil_setBalance) is in the next block's
        // state root but in none of its transactions: re-execution finds it.
        chain.set_balance(bob, U256::from(1)).unwrap();
        chain.mine(1_700_000_010).unwrap();
        let report = chain.verify_history(1, 6).unwrap();
        assert_eq!(report.blocks, 5);
        assert_eq!(
            report.mismatch.as_deref(),
            Some("block 6: the state root differs")
        );
    }

    #[test]
    fn the_consensus_module_decides_when_to_seal_and_validates_the_result() {
        use molt_abi::consensus::ValidateInput;
        use molt_runtime::{Consensus, Engine, Grants, Runtime, RuntimeConfig};

        let rt = Runtime::new(RuntimeConfig::default()).unwrap();
        let load = |b: crate::builtin::Builtin| {
            rt.load(&b.manifest(), &b.wasm(), &Grants::default())
                .unwrap()
        };
        let db = molt_storage::Db::temporary().unwrap();
        let account = crate::dev_accounts::signers(1).unwrap().remove(0);
        let modules = molt_chain::Modules {
            execution: Engine::Wasm(load(crate::builtin::EXECUTION)),
            consensus: Engine::Wasm(load(crate::builtin::CONSENSUS)),
            store: std::sync::Arc::new(molt_chain::upgrades::NoStagedModules),
        };
        let chain = Chain::open(
            db,
            modules,
            ChainConfig::dev(),
            SigningKey::from_bytes(&[9; 32]),
            &[(account.address(), U256::from(10 * ETH))],
        )
        .unwrap();
        let t0 = 1_700_000_000;

        // Block per transaction: nothing pending, nothing sealed.
        assert!(chain.tick(t0, 0).unwrap().is_none());
        chain
            .submit(pay(&account, 0, Address::with_last_byte(1), 1))
            .unwrap();
        let b1 = chain.tick(t0, 0).unwrap().expect("sealed");
        assert_eq!((b1.header.number, b1.transactions.len()), (1, 1));

        // Interval mode: nothing before the interval, an empty block at it.
        assert!(chain.tick(b1.header.timestamp + 5, 12).unwrap().is_none());
        let b2 = chain
            .tick(b1.header.timestamp + 12, 12)
            .unwrap()
            .expect("sealed");
        assert_eq!((b2.header.number, b2.transactions.len()), (2, 0));

        for n in [1, 2] {
            let v = chain.validate(n).unwrap();
            assert!(v.valid, "block {n}: {}", v.reason);
        }

        // A seal by a key that is not an authority, on both engines.
        let input = ValidateInput {
            parent: alloy_rlp::encode(&b1.header).into(),
            header: alloy_rlp::encode(&b2.header).into(),
            seal: chain.db().seal(2).unwrap().unwrap(),
            authorities: vec![Bytes::from(vec![1u8; 32])],
        };
        let wasm = Consensus::Wasm(load(crate::builtin::CONSENSUS))
            .validate(&input)
            .unwrap();
        let native = crate::builtin::native_consensus().validate(&input).unwrap();
        assert_eq!(wasm, native);
        assert_eq!(wasm.reason, "sealed by a key that is not an authority");
        // A header that does not follow its parent.
        let swapped = ValidateInput {
            parent: input.header.clone(),
            header: input.parent.clone(),
            ..input
        };
        let v = crate::builtin::native_consensus()
            .validate(&swapped)
            .unwrap();
        assert_eq!(v.reason, "number 1 does not follow parent 2");

        // With no authorities (a network's commit certificate is the evidence) the
        // header alone is judged, on both engines alike.
        let header_only = ValidateInput {
            seal: Bytes::new(),
            authorities: Vec::new(),
            ..swapped
        };
        let wasm = Consensus::Wasm(load(crate::builtin::CONSENSUS))
            .validate(&header_only)
            .unwrap();
        assert_eq!(
            wasm,
            crate::builtin::native_consensus()
                .validate(&header_only)
                .unwrap()
        );
        assert_eq!(wasm.reason, "number 1 does not follow parent 2");
        let good = ValidateInput {
            parent: header_only.header.clone(),
            header: header_only.parent.clone(),
            ..header_only
        };
        assert!(
            crate::builtin::native_consensus()
                .validate(&good)
                .unwrap()
                .valid
        );

        // The validators of a height: the module keeps the genesis set, on both
        // engines; the chain asks the module in force.
        let genesis = vec![molt_abi::consensus::ValidatorEntry {
            public_key: Bytes::from(vec![7u8; 32]),
            power: 3,
        }];
        let input = molt_abi::consensus::ValidatorsInput {
            height: 5,
            genesis: genesis.clone(),
        };
        let wasm = Consensus::Wasm(load(crate::builtin::CONSENSUS))
            .validators(&input)
            .unwrap();
        let native = crate::builtin::native_consensus()
            .validators(&input)
            .unwrap();
        assert_eq!(wasm, native);
        assert_eq!(wasm.map(|v| v.validators), Some(genesis.clone()));
        assert_eq!(chain.validators_at(3, &genesis).unwrap(), genesis);
    }

    #[test]
    fn a_block_proposed_on_one_node_is_verified_and_committed_on_another() {
        use molt_chain::{ChainError, Finality, InvalidBlock};
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (open(dir_a.path()), open(dir_b.path()));
        assert_eq!(a.head().hash, b.head().hash, "one genesis");
        let accounts = crate::dev_accounts::signers(2).unwrap();
        let bob = address!("000000000000000000000000000000000000b0b0");
        let invalid = |r: Result<(), ChainError>| match r {
            Err(ChainError::Invalid { reason, .. }) => reason,
            other => panic!("expected an invalid block, got {other:?}"),
        };

        // Propose on A: the block is kept there, not committed.
        let propose = |txs: &[Bytes], timestamp| {
            let pooled = txs
                .iter()
                .map(|tx| a.pooled(&a.submit(tx.clone()).unwrap()).unwrap())
                .collect();
            a.propose(timestamp, pooled).unwrap()
        };
        let txs = [
            pay(&accounts[0], 0, bob, ETH),
            pay(&accounts[1], 0, bob, 2 * ETH),
        ];
        let block = propose(&txs, 1_700_000_012);
        assert_eq!(block.transactions.len(), 2);
        assert_eq!(a.head_number(), 0, "proposed, not committed");

        // B re-executes it and finds the same block.
        b.verify(&block).unwrap();
        // A seal that is not the proposer's is refused by B's consensus module, and
        // the block must be verified again.
        let forged = Finality::Seal(Bytes::from(vec![0u8; 96]));
        assert!(matches!(
            b.commit(&block.hash, forged),
            Err(ChainError::Invalid {
                reason: InvalidBlock::Seal(_),
                ..
            })
        ));
        assert!(matches!(
            b.commit(&block.hash, a.seal(&block.hash)),
            Err(ChainError::NotExecuted(_))
        ));
        b.verify(&block).unwrap();
        let on_b = b.commit(&block.hash, a.seal(&block.hash)).unwrap();
        let on_a = a.commit(&block.hash, a.seal(&block.hash)).unwrap();
        assert_eq!(on_a, on_b);
        assert_eq!(a.db().state_root().unwrap(), b.db().state_root().unwrap());
        assert_eq!(b.db().seal(1).unwrap(), a.db().seal(1).unwrap());

        // What B refuses, and why.
        let next = propose(&[pay(&accounts[0], 1, bob, ETH)], 1_700_000_024);
        let mut tampered = next.clone();
        tampered.header.state_root = B256::repeat_byte(1);
        assert_eq!(
            invalid(b.verify(&tampered)),
            InvalidBlock::Differs { what: "state root" }
        );
        let mut replayed = next.clone();
        replayed.transactions.push(txs[0].clone());
        assert!(matches!(
            invalid(b.verify(&replayed)),
            InvalidBlock::Rejected { index: 1, .. }
        ));
        let mut early = next.clone();
        early.header.timestamp = on_a.header.timestamp;
        assert!(matches!(
            invalid(b.verify(&early)),
            InvalidBlock::Timestamp { .. }
        ));
        let mut elsewhere = next.clone();
        elsewhere.header.parent_hash = B256::repeat_byte(2);
        assert!(matches!(
            invalid(b.verify(&elsewhere)),
            InvalidBlock::NotOnHead { .. }
        ));
        b.verify(&next).unwrap();
        b.commit(&next.hash, a.seal(&next.hash)).unwrap();
        assert_eq!(b.head_number(), 2);
        assert!(b.validate(2).unwrap().valid);
    }

    #[test]
    fn transactions_that_do_not_fit_a_block_wait_for_the_next() {
        let db = molt_storage::Db::temporary().unwrap();
        let account = crate::dev_accounts::signers(1).unwrap().remove(0);
        let config = ChainConfig {
            gas_limit: 50_000, // room for two transfers
            ..ChainConfig::dev()
        };
        let chain = crate::builtin::native_chain(
            db,
            config,
            SigningKey::from_bytes(&[7; 32]),
            &[(account.address(), U256::from(10 * ETH))],
        )
        .unwrap();
        for nonce in 0..3 {
            chain
                .submit(pay(&account, nonce, Address::with_last_byte(1), 1))
                .unwrap();
        }
        // `mine` offers everything: the third transfer does not fit and must survive.
        assert_eq!(chain.mine(1).unwrap().transactions.len(), 2);
        assert_eq!(chain.pool_len(), 1);
        assert_eq!(chain.mine(2).unwrap().transactions.len(), 1);
        assert_eq!(chain.pool_len(), 0);
    }
}

#[test]
fn a_block_executed_on_the_database_matches_the_in_memory_path() {
    use alloy_primitives::B256;
    use molt_abi::execution::{AccountChange, AccountInfo, NewCode, StorageChange};
    use molt_storage::Db;
    use molt_storage::state::StateView;
    use std::sync::Arc;

    let w = crate::bench::workloads::erc20_transfers(20);
    let db = Db::temporary().unwrap();
    let genesis: Vec<AccountChange> = w
        .pre
        .accounts()
        .map(|(address, a)| AccountChange {
            address: *address,
            deleted: false,
            info: AccountInfo {
                nonce: a.nonce,
                balance: a.balance,
                code_hash: a.code_hash,
            },
            storage_wiped: false,
            storage: w
                .pre
                .storage_of(address)
                .map(|(slot, value)| StorageChange {
                    slot: *slot,
                    value: *value,
                })
                .collect(),
        })
        .collect();
    let codes: Vec<NewCode> = w
        .pre
        .accounts()
        .filter_map(|(_, a)| {
            let code = StateView::code(&w.pre, &a.code_hash).unwrap()?;
            Some(NewCode {
                hash: a.code_hash,
                code,
            })
        })
        .collect();
    db.apply(0, B256::ZERO, &genesis, &codes).unwrap();
    assert_eq!(db.state_root().unwrap(), w.pre.state_root());

    let on_db = crate::builtin::native_executor()
        .execute_block(Arc::new(db.clone()), &w.block)
        .unwrap();
    let in_memory = crate::builtin::native_executor()
        .execute_block(Arc::new(w.pre.clone()), &w.block)
        .unwrap();
    assert_eq!(on_db, in_memory);
    db.apply(1, B256::with_last_byte(1), &on_db.accounts, &on_db.codes)
        .unwrap();
    let mut model = w.pre.clone();
    model.apply(&in_memory.accounts, &in_memory.codes);
    assert_eq!(db.state_root().unwrap(), model.state_root());
    assert_ne!(model.state_root(), w.pre.state_root());
}
