//! Random blocks through the WebAssembly module and its native twin: the outputs must
//! be byte-identical. Every transaction type (legacy with and without a chain id,
//! access lists, dynamic fees, blobs with and without their sidecar, set-code
//! authorizations), creates that deploy, revert, self-destruct or break EIP-3541, calls
//! into contracts that store, log, revert, self-destruct and loop, calls of every
//! precompile with random input, wrong nonces, fees and chain ids, and garbage.
//!
//! The test command runs a bounded number of blocks, the same ones every time; a long
//! run explores new ones (a random seed; proptest prints the smallest failing block,
//! and `PROPTEST_RNG_SEED=N` fixes a seed):
//!
//! ```sh
//! PROPTEST_CASES=5000 cargo test --release -p molt-host differential
//! ```

use std::sync::Arc;

use alloy_consensus::{TxEip1559, TxEip2930, TxEip4844, TxEip7702, TxLegacy};
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_eips::eip7702::{Authorization, SignedAuthorization};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use molt_abi::execution::{BlockEnv, BlockInput};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use molt_chain::signer::Signer;
use molt_storage::state::MemState;

const CHAIN_ID: u64 = 31337;
const GWEI: u128 = 1_000_000_000;

/// Blocks per run of the test command; `PROPTEST_CASES` sets another number.
const DEFAULT_CASES: u32 = 48;

/// The test command's seed.
const FIXED_SEED: u64 = 0x6d6f_6c74;

/// Contracts in the pre-state, at `0x…c1` to `0x…c5`.
const CONTRACTS: [&[u8]; 5] = [
    // SSTORE(calldata[0..32], calldata[32..64]); LOG0; STOP
    &[
        0x60, 0x20, 0x35, 0x60, 0x00, 0x35, 0x55, 0x60, 0x00, 0x60, 0x00, 0xa0, 0x00,
    ],
    // SSTORE(0, 1); REVERT(0, 0)
    &[0x60, 0x01, 0x60, 0x00, 0x55, 0x60, 0x00, 0x60, 0x00, 0xfd],
    // SELFDESTRUCT(CALLER)
    &[0x33, 0xff],
    // an endless loop: runs out of gas
    &[0x5b, 0x60, 0x00, 0x56],
    // CALLDATACOPY(0, 1, CALLDATASIZE - 1); then CALL(GAS, calldata[0] as the
    // address, 0, 0, CALLDATASIZE - 1, 0, 64): a precompile called from a contract
    &[
        0x60, 0x01, 0x36, 0x03, 0x60, 0x01, 0x60, 0x00, 0x37, 0x60, 0x40, 0x60, 0x00, 0x60, 0x01,
        0x36, 0x03, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x35, 0x60, 0xf8, 0x1c, 0x5a, 0xf1, 0x00,
    ],
];

/// Init code templates for creates.
const INIT_CODES: [&[u8]; 4] = [
    // deploys SELFDESTRUCT(CALLER)
    &[
        0x61, 0x33, 0xff, 0x60, 0x00, 0x52, 0x60, 0x02, 0x60, 0x1e, 0xf3,
    ],
    // self-destructs in its constructor
    &[0x33, 0xff],
    // reverts
    &[0x60, 0x00, 0x60, 0x00, 0xfd],
    // returns code starting with 0xEF (refused by EIP-3541)
    &[0x60, 0xef, 0x60, 0x00, 0x53, 0x60, 0x01, 0x60, 0x00, 0xf3],
];

fn contract(i: usize) -> Address {
    Address::with_last_byte(0xc1 + i as u8)
}

/// One random transaction, as numbers that shrink; [`Block::tx`] gives them meaning.
#[derive(Clone, Debug)]
struct TxSpec {
    signer: u8,
    tx_type: u8,
    nonce_skew: u8,
    gas: u8,
    target: u8,
    value: u8,
    fee: u8,
    data: Vec<u8>,
    auths: Vec<(u8, u8, u8)>,
}

fn tx_spec() -> impl Strategy<Value = TxSpec> {
    (
        0u8..4,
        0u8..7,
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..96),
        prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..3),
    )
        .prop_map(
            |(signer, tx_type, nonce_skew, gas, target, value, fee, data, auths)| TxSpec {
                signer,
                tx_type,
                nonce_skew,
                gas,
                target,
                value,
                fee,
                data,
                auths,
            },
        )
}

/// Builds a block's transactions, keeping track of each sender's next nonce.
struct Block {
    signers: Vec<Signer>,
    nonces: Vec<u64>,
}

impl Block {
    fn new() -> Self {
        let signers = crate::dev_accounts::signers(4).expect("dev keys");
        Block {
            nonces: vec![0; signers.len()],
            signers,
        }
    }

    fn pre_state(&self) -> MemState {
        let mut s = MemState::new();
        for signer in &self.signers {
            s.insert_account(
                signer.address(),
                U256::from(1000u128 * 10u128.pow(18)),
                0,
                Bytes::new(),
                [],
            );
        }
        for (i, code) in CONTRACTS.iter().enumerate() {
            s.insert_account(
                contract(i),
                U256::from(1u64 << 40),
                1,
                Bytes::from_static(code),
                [(U256::ZERO, U256::from(7))],
            );
        }
        s
    }

    fn tx(&mut self, spec: &TxSpec) -> Bytes {
        let who = usize::from(spec.signer) % self.signers.len();
        let nonce = match spec.nonce_skew % 16 {
            0 => self.nonces[who].saturating_sub(1),
            1 => self.nonces[who] + 1,
            _ => self.nonces[who],
        };
        if nonce == self.nonces[who] {
            self.nonces[who] += 1;
        }
        let gas_limit = match spec.gas % 8 {
            0 => 21_000,
            1 => 30_000,
            2 => 20_000,
            3 => 1_000_000,
            4 => 40_000_000,
            _ => 60_000 + u64::from(spec.gas) * 2_000,
        };
        let value = match spec.value % 8 {
            0 => U256::MAX >> 1,
            1 => U256::ZERO,
            v => U256::from(u64::from(v) * u64::from(spec.value)),
        };
        let (max_fee, tip) = match spec.fee % 8 {
            0 => (GWEI / 2, 0),
            1 => (2 * GWEI, 3 * GWEI),
            f => (u128::from(f) * GWEI, u128::from(spec.fee) * GWEI / 256),
        };
        let data = Bytes::from(spec.data.clone());
        let target = spec.target % 24;
        let to = match target {
            0..=4 => TxKind::Call(contract(usize::from(target))),
            5 => TxKind::Create,
            6..=22 => TxKind::Call(Address::with_last_byte(target - 5)),
            _ => TxKind::Call(self.signers[(who + 1) % self.signers.len()].address()),
        };
        let input = match to {
            TxKind::Create if spec.data.first().is_some_and(|b| b % 2 == 0) => {
                Bytes::from_static(INIT_CODES[usize::from(spec.data[0] / 2) % INIT_CODES.len()])
            }
            _ => data,
        };
        let signer = &self.signers[who];
        let call_to = match to {
            TxKind::Call(a) => a,
            TxKind::Create => contract(0),
        };
        match spec.tx_type {
            0 => signer.sign(TxLegacy {
                chain_id: (!spec.fee.is_multiple_of(5)).then_some(CHAIN_ID),
                nonce,
                gas_price: max_fee,
                gas_limit,
                to,
                value,
                input,
            }),
            1 => signer.sign(TxEip2930 {
                chain_id: if spec.fee.is_multiple_of(11) {
                    1
                } else {
                    CHAIN_ID
                },
                nonce,
                gas_price: max_fee,
                gas_limit,
                to,
                value,
                access_list: AccessList(vec![AccessListItem {
                    address: call_to,
                    storage_keys: vec![B256::ZERO, B256::with_last_byte(spec.value)],
                }]),
                input,
            }),
            2 => signer.sign(TxEip1559 {
                chain_id: CHAIN_ID,
                nonce,
                gas_limit,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: tip,
                to,
                value,
                access_list: AccessList::default(),
                input,
            }),
            3 => signer.sign(TxEip4844 {
                chain_id: CHAIN_ID,
                nonce,
                gas_limit,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: tip,
                to: call_to,
                value,
                access_list: AccessList::default(),
                blob_versioned_hashes: (0..spec.value % 4)
                    .map(|i| {
                        let mut h = B256::repeat_byte(i);
                        h[0] = if spec.fee.is_multiple_of(7) {
                            0x02
                        } else {
                            0x01
                        };
                        h
                    })
                    .collect(),
                max_fee_per_blob_gas: u128::from(spec.fee),
                input,
            }),
            4 => {
                let authorization_list = spec
                    .auths
                    .iter()
                    .map(|&(authority, delegate, skew)| {
                        let a = usize::from(authority) % self.signers.len();
                        let auth = Authorization {
                            chain_id: match skew % 4 {
                                0 => U256::ZERO,
                                1 => U256::from(5),
                                _ => U256::from(CHAIN_ID),
                            },
                            address: contract(usize::from(delegate) % CONTRACTS.len()),
                            nonce: self.nonces[a]
                                + u64::from(skew.is_multiple_of(3))
                                + u64::from(a == who),
                        };
                        let sig = self.signers[a].sign_hash(&auth.signature_hash());
                        SignedAuthorization::new_unchecked(
                            auth,
                            sig[64],
                            U256::from_be_slice(&sig[..32]),
                            U256::from_be_slice(&sig[32..64]),
                        )
                    })
                    .collect();
                signer.sign(TxEip7702 {
                    chain_id: CHAIN_ID,
                    nonce,
                    gas_limit,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    to: call_to,
                    value,
                    access_list: AccessList::default(),
                    authorization_list,
                    input,
                })
            }
            5 if spec.value.is_multiple_of(16) => super::execution::blob_with_sidecar(nonce),
            _ => {
                // Bytes that are not a transaction, or a valid one cut short.
                let mut raw = spec.data.clone();
                raw.insert(0, spec.value % 5);
                raw.into()
            }
        }
    }
}

fn run(specs: &[TxSpec], prague: bool, excess_blob_gas: u64) -> Result<(), TestCaseError> {
    let mut block = Block::new();
    let state = Arc::new(block.pre_state());
    let txs = specs.iter().map(|s| block.tx(s)).collect();
    let input = BlockInput {
        env: BlockEnv {
            spec: if prague { "Prague" } else { "Cancun" }.into(),
            chain_id: CHAIN_ID,
            number: 1,
            timestamp: 1_700_000_000,
            coinbase: Address::with_last_byte(0xcb),
            gas_limit: 30_000_000,
            base_fee: GWEI as u64,
            excess_blob_gas,
            ..BlockEnv::default()
        },
        txs,
        impersonation: None,
    };
    let encoded = molt_abi::execution::encode(&input);
    let native = crate::builtin::native_executor().execute_block_raw(state.clone(), &encoded);
    let wasm = super::execution::wasm().execute_block_raw(state, &encoded);
    match (native, wasm) {
        (Ok((native, _)), Ok((wasm, _))) => {
            let decode =
                |b: &[u8]| molt_abi::execution::decode::<molt_abi::execution::BlockOutput>(b);
            prop_assert!(
                native == wasm,
                "outputs differ:\nnative {:?}\nwasm   {:?}",
                decode(&native),
                decode(&wasm)
            )
        }
        (native, wasm) => prop_assert!(
            false,
            "an engine failed: native {:?}, wasm {:?}",
            native.err(),
            wasm.err()
        ),
    }
    Ok(())
}

/// The generator reaches what it is meant to: a Prague block of well-formed
/// transactions of every type is included, creates deploy, authorizations delegate.
#[test]
fn the_generator_makes_transactions_that_execute() {
    let spec = |signer, tx_type, target, data: &[u8], auths: Vec<(u8, u8, u8)>| TxSpec {
        signer,
        tx_type,
        nonce_skew: 2,
        gas: 3,
        target,
        value: 1,
        fee: 3,
        data: data.to_vec(),
        auths,
    };
    let specs = [
        spec(0, 0, 0, &[0; 64], vec![]),      // legacy, stores
        spec(1, 1, 23, &[], vec![]),          // access list, a transfer
        spec(2, 2, 5, &[0], vec![]),          // dynamic fee, creates a self-destructor
        spec(3, 3, 2, &[], vec![]),           // blob (no blob hashes: value 1 % 4), to a contract
        spec(0, 4, 23, &[], vec![(1, 0, 2)]), // set code: account 1 delegates to 0x…c1
        spec(2, 2, 6, &[1, 2, 3], vec![]),    // a precompile (0x01) from a transaction
        spec(3, 2, 4, &[2, 0xaa], vec![]),    // a precompile (0x02) from a contract
    ];
    let mut block = Block::new();
    let state = Arc::new(block.pre_state());
    let txs = specs.iter().map(|s| block.tx(s)).collect();
    let input = BlockInput {
        env: BlockEnv {
            spec: "Prague".into(),
            chain_id: CHAIN_ID,
            number: 1,
            timestamp: 1_700_000_000,
            gas_limit: 30_000_000,
            base_fee: GWEI as u64,
            ..BlockEnv::default()
        },
        txs,
        impersonation: None,
    };
    let encoded = molt_abi::execution::encode(&input);
    let (native, _) = crate::builtin::native_executor()
        .execute_block_raw(state.clone(), &encoded)
        .unwrap();
    let (wasm, _) = super::execution::wasm()
        .execute_block_raw(state, &encoded)
        .unwrap();
    assert_eq!(native, wasm);
    let out: molt_abi::execution::BlockOutput = molt_abi::execution::decode(&native).unwrap();
    for (i, outcome) in out.outcomes.iter().enumerate() {
        assert!(
            matches!(outcome, molt_abi::execution::TxOutcome::Included(r) if r.success),
            "transaction {i}: {outcome:?}"
        );
    }
    let delegated = out
        .accounts
        .iter()
        .find(|a| a.address == block.signers[1].address())
        .unwrap();
    let designator = [&[0xef, 0x01, 0x00][..], contract(0).as_slice()].concat();
    assert_eq!(
        delegated.info.code_hash,
        alloy_primitives::keccak256(designator)
    );
}

/// The test command's run is the same every time (a fixed seed, [`DEFAULT_CASES`]
/// blocks), so CI never fails by chance; `PROPTEST_CASES` or `PROPTEST_RNG_SEED` make
/// it explore (a random seed unless one is given), as in the long run.
fn config() -> ProptestConfig {
    let from_env = ProptestConfig::default();
    let exploring = ["PROPTEST_CASES", "PROPTEST_RNG_SEED"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    ProptestConfig {
        cases: if exploring {
            from_env.cases
        } else {
            DEFAULT_CASES
        },
        rng_seed: if exploring {
            from_env.rng_seed
        } else {
            RngSeed::Fixed(FIXED_SEED)
        },
        failure_persistence: None,
        ..from_env
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_blocks_give_identical_outputs_on_wasm_and_native(
        specs in prop::collection::vec(tx_spec(), 1..14),
        prague in any::<bool>(),
        excess_blob_gas in prop_oneof![Just(0u64), 0u64..10_000_000],
    ) {
        run(&specs, prague, excess_blob_gas)?;
    }
}
