//! The database against a model (`MemState`), the way sled tests itself against a
//! `BTreeMap`: random block diffs applied to both must leave the same state.

use alloy_primitives::keccak256;
use molt_abi::execution::StorageChange;

use super::*;

/// A small deterministic generator (xorshift64*), so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_block(rng: &mut Rng) -> (Vec<AccountChange>, Vec<NewCode>) {
    let mut changes = Vec::new();
    let mut codes = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for _ in 0..rng.below(5) + 1 {
        let address = Address::with_last_byte(rng.below(8) as u8);
        if !used.insert(address) {
            continue;
        }
        if rng.below(6) == 0 {
            changes.push(AccountChange {
                address,
                deleted: true,
                storage_wiped: true,
                ..AccountChange::default()
            });
            continue;
        }
        let code_hash = if rng.below(4) == 0 {
            let code = Bytes::from(vec![0x60, rng.below(256) as u8, 0x00]);
            let hash = keccak256(&code);
            codes.push(NewCode { hash, code });
            hash
        } else {
            alloy_trie::KECCAK_EMPTY
        };
        let storage = (0..rng.below(4))
            .map(|_| (U256::from(rng.below(6)), U256::from(rng.below(3))))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .map(|(slot, value)| StorageChange { slot, value })
            .collect();
        changes.push(AccountChange {
            address,
            deleted: false,
            info: AccountInfo {
                nonce: rng.below(5),
                balance: U256::from(rng.below(1000)),
                code_hash,
            },
            storage_wiped: rng.below(5) == 0,
            storage,
        });
    }
    codes.sort_by_key(|c| c.hash);
    codes.dedup_by_key(|c| c.hash);
    (changes, codes)
}

fn assert_same(db: &Db, model: &MemState) {
    let snapshot = db.snapshot().unwrap();
    assert_eq!(snapshot.state_root(), model.state_root());
    for (address, account) in model.accounts() {
        assert_eq!(StateView::account(db, address).unwrap(), Some(*account));
        for (slot, value) in model.storage_of(address) {
            assert_eq!(StateView::storage(db, address, slot).unwrap(), *value);
        }
    }
    assert_eq!(snapshot.len(), model.len());
}

#[test]
fn random_blocks_leave_the_database_equal_to_the_model() {
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let db = Db::temporary().unwrap();
        let mut model = MemState::new();
        for number in 1..=30 {
            let (changes, codes) = random_block(&mut rng);
            let hash = B256::with_last_byte(number as u8);
            db.apply(number, hash, &changes, &codes).unwrap();
            model.apply(&changes, &codes);
            assert_same(&db, &model);
            assert_eq!(StateView::block_hash(&db, number).unwrap(), Some(hash));
        }
    }
}

#[test]
fn state_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    let mut model = MemState::new();
    {
        let db = Db::open(dir.path()).unwrap();
        for number in 1..=10 {
            let (changes, codes) = random_block(&mut rng);
            db.apply(number, B256::ZERO, &changes, &codes).unwrap();
            model.apply(&changes, &codes);
        }
        db.flush().unwrap();
    }
    let db = Db::open(dir.path()).unwrap();
    assert_same(&db, &model);
}

#[test]
fn the_trie_root_matches_a_full_rebuild_on_random_state() {
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let db = Db::temporary().unwrap();
        let mut model = MemState::new();
        for number in 1..=30 {
            let (changes, codes) = random_block(&mut rng);
            db.apply(number, B256::ZERO, &changes, &codes).unwrap();
            model.apply(&changes, &codes);
            assert_eq!(
                db.state_root().unwrap(),
                model.state_root(),
                "seed {seed} block {number}"
            );
        }
    }
}

/// Commits `changes` as block `number` on `db`, a header carrying the update's root.
fn commit(db: &Db, number: u64, changes: Vec<AccountChange>, codes: Vec<NewCode>) -> B256 {
    let update = db.state_update(changes, codes).unwrap();
    let header = alloy_consensus::Header {
        number,
        state_root: update.root,
        ..Default::default()
    };
    let block = SealedBlock {
        hash: header.hash_slow(),
        header,
        transactions: Vec::new(),
        senders: Vec::new(),
        receipts: Vec::new(),
    };
    db.commit_block(&block, b"seal", &update).unwrap();
    update.root
}

/// A chain of random blocks on `db`, and the model state after each of them.
fn random_chain(db: &Db, seed: u64, blocks: u64) -> Vec<MemState> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut model = MemState::new();
    let mut states = Vec::new();
    commit(db, 0, Vec::new(), Vec::new());
    states.push(model.clone());
    for number in 1..=blocks {
        let (changes, codes) = random_block(&mut rng);
        model.apply(&changes, &codes);
        let root = commit(db, number, changes, codes);
        assert_eq!(root, model.state_root(), "seed {seed} block {number}");
        states.push(model.clone());
    }
    states
}

/// Every account and slot any model state has, read at `at`, equals `model`'s.
fn assert_state_at(at: &StateAt, model: &MemState, all: &[MemState]) {
    for state in all {
        for (address, _) in state.accounts() {
            assert_eq!(
                StateView::account(at, address).unwrap(),
                StateView::account(model, address).unwrap(),
                "account {address} at block {}",
                at.number()
            );
            for (slot, _) in state.storage_of(address) {
                assert_eq!(
                    StateView::storage(at, address, slot).unwrap(),
                    StateView::storage(model, address, slot).unwrap(),
                    "slot {slot} of {address} at block {}",
                    at.number()
                );
            }
        }
    }
}

#[test]
fn the_state_at_every_block_is_the_state_after_it() {
    for seed in 1..=8u64 {
        let db = Db::temporary().unwrap();
        let states = random_chain(&db, seed, 25);
        for (n, model) in states.iter().enumerate() {
            assert_state_at(&db.state_at(n as u64).unwrap(), model, &states);
        }
        assert!(matches!(
            db.state_at(26),
            Err(StorageError::AboveHead {
                number: 26,
                head: 25
            })
        ));
    }
}

#[test]
fn reverting_restores_the_state_its_root_and_its_history() {
    for seed in 1..=8u64 {
        let db = Db::temporary().unwrap();
        let states = random_chain(&db, seed, 20);
        db.revert_to(12).unwrap();
        assert_same(&db, &states[12]);
        assert_eq!(db.state_root().unwrap(), states[12].state_root());
        for n in 0..=12 {
            assert_state_at(&db.state_at(n).unwrap(), &states[n as usize], &states);
        }
        // The chain grows again from there, with a history as if never reverted.
        let mut rng = Rng(seed);
        let mut model = states[12].clone();
        for number in 13..=16 {
            let (changes, codes) = random_block(&mut rng);
            model.apply(&changes, &codes);
            assert_eq!(commit(&db, number, changes, codes), model.state_root());
        }
        assert_state_at(&db.state_at(12).unwrap(), &states[12], &states);
    }
}

#[test]
fn edits_outside_blocks_reach_the_next_root_and_survive_a_revert() {
    let db = Db::temporary().unwrap();
    let states = random_chain(&db, 3, 5);
    let who = Address::with_last_byte(0xee);
    let before = db.set_balance(who, U256::from(77)).unwrap();
    let mut model = states[5].clone();
    model.insert_account(who, U256::from(77), 0, Bytes::new(), []);
    assert_eq!(db.state_root().unwrap(), model.state_root());
    assert_eq!(commit(&db, 6, Vec::new(), Vec::new()), model.state_root());
    db.revert_to(5).unwrap();
    // The edit was made at head 5: it stays until undone.
    assert_eq!(db.state_root().unwrap(), model.state_root());
    db.restore_account(who, before.as_ref()).unwrap();
    assert_eq!(db.state_root().unwrap(), states[5].state_root());
}

#[test]
fn slot_edits_outside_blocks_reach_the_next_root_and_are_undone() {
    use molt_abi::execution::{AccountChange, AccountInfo, StorageChange};
    let db = Db::temporary().unwrap();
    let states = random_chain(&db, 7, 4);
    // An account with storage, one slot set and one cleared by dev edits.
    let who = Address::with_last_byte(3);
    let info = db.account(&who).unwrap().expect("the chain made it");
    let slot = |n: u64, v: u64| StorageChange {
        slot: U256::from(n),
        value: U256::from(v),
    };
    let edits = [slot(1, 0xabc), slot(900, 5), slot(900, 0)];
    let mut befores = Vec::new();
    let mut model = states[4].clone();
    for e in &edits {
        befores.push(db.edit_slot(who, e.slot, e.value).unwrap());
        model.apply(
            &[AccountChange {
                address: who,
                info: AccountInfo {
                    nonce: info.nonce,
                    balance: info.balance,
                    code_hash: info.code_hash,
                },
                storage: vec![*e],
                ..AccountChange::default()
            }],
            &[],
        );
        assert_eq!(db.state_root().unwrap(), model.state_root());
    }
    assert_eq!(db.storage(&who, &U256::from(1)).unwrap(), U256::from(0xabc));
    assert_eq!(commit(&db, 5, Vec::new(), Vec::new()), model.state_root());
    db.revert_to(4).unwrap();
    for (e, before) in edits.iter().zip(befores).rev() {
        db.restore_slot(who, e.slot, before).unwrap();
    }
    assert_eq!(db.state_root().unwrap(), states[4].state_root());
    assert_same(&db, &states[4]);
}

#[test]
fn history_is_pruned_below_its_window_with_a_clear_error() {
    let db = Db::temporary().unwrap().with_history(Some(4));
    let states = random_chain(&db, 5, 12);
    assert_eq!(db.history_floor().unwrap(), 8);
    for n in 8..=12 {
        assert_state_at(&db.state_at(n).unwrap(), &states[n as usize], &states);
    }
    let e = db.state_at(7).unwrap_err();
    assert!(matches!(
        e,
        StorageError::Pruned {
            number: 7,
            floor: 8,
            head: 12
        }
    ));
    assert!(e.to_string().contains("blocks 8 to 12"), "{e}");
    assert!(matches!(db.revert_to(7), Err(StorageError::Pruned { .. })));
    db.revert_to(8).unwrap();
    assert_same(&db, &states[8]);
}

#[test]
fn proofs_at_any_block_verify_against_its_root() {
    use alloy_trie::Nibbles;
    use alloy_trie::proof::verify_proof;
    let db = Db::temporary().unwrap();
    let states = random_chain(&db, 11, 15);
    for (n, model) in states.iter().enumerate() {
        let root = db.header(n as u64).unwrap().unwrap().state_root;
        assert_eq!(root, model.state_root());
        // Present and absent accounts, present and absent slots.
        for last in 0..10u8 {
            let address = Address::with_last_byte(last);
            let slots: Vec<U256> = (0..7).map(U256::from).collect();
            let p = db.proof(n as u64, &address, &slots).unwrap();
            let expected = p.account.map(alloy_rlp::encode);
            assert_eq!(
                p.account.is_some(),
                StateView::account(model, &address).unwrap().is_some()
            );
            verify_proof(
                root,
                Nibbles::unpack(keccak256(address)),
                expected,
                &p.proof,
            )
            .unwrap_or_else(|e| panic!("account {address} at {n}: {e}"));
            let storage_root = p
                .account
                .map_or(alloy_trie::EMPTY_ROOT_HASH, |a| a.storage_root);
            for (slot, value, proof) in &p.storage {
                assert_eq!(*value, StateView::storage(model, &address, slot).unwrap());
                let expected = (!value.is_zero()).then(|| alloy_rlp::encode(value));
                verify_proof(
                    storage_root,
                    Nibbles::unpack(keccak256(slot.to_be_bytes::<32>())),
                    expected,
                    proof,
                )
                .unwrap_or_else(|e| panic!("slot {slot} of {address} at {n}: {e}"));
            }
        }
    }
}

#[test]
fn a_database_from_before_the_trie_gets_one_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let states = {
        let db = Db::open(dir.path()).unwrap();
        let states = random_chain(&db, 9, 6);
        // What an older molt left: no trie root, no history floor.
        db.tree.remove(META_ROOT).unwrap();
        db.tree.remove(META_FLOOR).unwrap();
        db.flush().unwrap();
        states
    };
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.state_root().unwrap(), states[6].state_root());
    assert_eq!(db.history_floor().unwrap(), 6);
    assert!(matches!(db.state_at(5), Err(StorageError::Pruned { .. })));
}
