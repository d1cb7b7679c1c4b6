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
