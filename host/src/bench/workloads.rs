//! The blocks the execution benches run: ERC-20 transfers, a compute-heavy contract,
//! contract deployments. Each is a pre-state plus one block of signed transactions;
//! the contracts come from `contracts/*.sol` (compiled into `contracts.json` by
//! `contracts/build.js`).

use alloy_consensus::TxEip1559;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use calldata::{call, word};
use molt_abi::execution::{BlockEnv, BlockInput};

use molt_chain::signer::Signer;
use molt_storage::state::MemState;

const CONTRACTS: &str = include_str!("contracts/contracts.json");
const GWEI: u128 = 1_000_000_000;
const CHAIN_ID: u64 = 31337;
/// Where the ERC-20 workload deploys its token.
pub const TOKEN: Address = address!("00000000000000000000000000000000000070c0");
const HASHER: Address = address!("0000000000000000000000000000000000004a54");
const TRACER: Address = address!("0000000000000000000000000000000000007ace");

/// A named block and the state it runs on.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Short name for tables.
    pub name: String,
    /// State before the block.
    pub pre: MemState,
    /// The block.
    pub block: BlockInput,
    /// Whether every transaction must succeed (a state test's may fail on purpose).
    pub must_succeed: bool,
}

/// Bytecode of a contract in `contracts.json`: `("Token", "runtime")`.
pub(crate) fn bytecode(contract: &str, which: &str) -> Bytes {
    let all: serde_json::Value = serde_json::from_str(CONTRACTS).expect("contracts.json is valid");
    all[contract][which]
        .as_str()
        .and_then(|h| h.parse().ok())
        .expect("contract bytecode present")
}

/// The account every workload sends from.
pub fn sender() -> Signer {
    // The second key of the standard dev mnemonic.
    let secret: B256 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
        .parse()
        .expect("hex");
    Signer::from_secret(&secret).expect("valid key")
}

fn env() -> BlockEnv {
    BlockEnv {
        spec: "Cancun".into(),
        chain_id: CHAIN_ID,
        number: 1,
        timestamp: 1_700_000_000,
        coinbase: address!("00000000000000000000000000000000000000c0"),
        gas_limit: 100_000_000,
        base_fee: GWEI as u64,
        ..BlockEnv::default()
    }
}

/// A workload that must succeed: `txs` in one block of [`env`] on `pre`.
fn workload(name: impl Into<String>, pre: MemState, txs: Vec<Bytes>) -> Workload {
    Workload {
        name: name.into(),
        pre,
        block: BlockInput {
            env: env(),
            txs,
            impersonation: None,
        },
        must_succeed: true,
    }
}

fn tx(signer: &Signer, nonce: u64, to: TxKind, input: Bytes, gas_limit: u64) -> Bytes {
    signer.sign(TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    })
}

fn funded(signer: &Signer) -> MemState {
    let mut pre = MemState::new();
    pre.insert_account(
        signer.address(),
        U256::from(10u128.pow(24)),
        0,
        Bytes::new(),
        [],
    );
    pre
}

/// `count` ERC-20 transfers from one holder to distinct new recipients.
pub fn erc20_transfers(count: u64) -> Workload {
    let s = sender();
    let mut pre = funded(&s);
    // balanceOf lives in slot 0: balanceOf[a] is at keccak256(pad(a) ++ pad(0)).
    let balance_slot = keccak256([word(s.address().into_word()), word(B256::ZERO)].concat());
    pre.insert_account(
        TOKEN,
        U256::ZERO,
        1,
        bytecode("Token", "runtime"),
        [
            (balance_slot.into(), U256::from(10u128.pow(24))),
            (U256::from(2), U256::from(10u128.pow(24))),
        ],
    );
    let txs = (0..count)
        .map(|i| {
            let to = Address::with_last_byte(0).create(i);
            let data = call(
                "transfer(address,uint256)",
                &[to.into_word(), B256::from(U256::from(1000 + i))],
            );
            tx(&s, i, TxKind::Call(TOKEN), data, 80_000)
        })
        .collect();
    workload("erc20_transfers", pre, txs)
}

/// `count` calls of a keccak-and-arithmetic loop of `rounds` iterations.
pub fn compute(count: u64, rounds: u64) -> Workload {
    let s = sender();
    let mut pre = funded(&s);
    pre.insert_account(HASHER, U256::ZERO, 1, bytecode("Hasher", "runtime"), []);
    let txs = (0..count)
        .map(|i| {
            let data = call("work(uint256)", &[B256::from(U256::from(rounds + i))]);
            tx(&s, i, TxKind::Call(HASHER), data, 10_000_000)
        })
        .collect();
    workload("compute_keccak_loop", pre, txs)
}

/// `count` deployments of the ERC-20 contract.
pub fn deployments(count: u64) -> Workload {
    let s = sender();
    let pre = funded(&s);
    let init = bytecode("Token", "init");
    let txs = (0..count)
        .map(|i| {
            let data = [init.as_ref(), &word(B256::from(U256::from(1_000_000 + i)))].concat();
            tx(&s, i, TxKind::Create, data.into(), 2_000_000)
        })
        .collect();
    workload("deploy_erc20", pre, txs)
}

/// One call rendering a `w`×`h` image with the snailtracer-style ray tracer
/// (`contracts/Tracer.sol`): signed 256-bit multiplications, divisions and square
/// roots.
pub fn tracer(w: u64, h: u64) -> Workload {
    let s = sender();
    let mut pre = funded(&s);
    pre.insert_account(TRACER, U256::ZERO, 1, bytecode("Tracer", "runtime"), []);
    let data = call(
        "trace(uint256,uint256)",
        &[B256::from(U256::from(w)), B256::from(U256::from(h))],
    );
    workload(
        format!("snailtracer_{w}x{h}"),
        pre,
        vec![tx(&s, 0, TxKind::Call(TRACER), data, 90_000_000)],
    )
}

/// One call of a contract that touches its EVM memory every 32 KiB up to `kib` KiB,
/// writing a word and emitting a log at each step: a memory buffer that grows by
/// doubling while small allocations (the logs) go on around it.
pub fn memory_growth(kib: u32) -> Workload {
    const GROWER: Address = address!("000000000000000000000000000000000000a110");
    let s = sender();
    let mut pre = funded(&s);
    let limit = (kib * 1024).to_be_bytes();
    #[rustfmt::skip]
    let code = [
        0x5f,                         // PUSH0             i = 0
        0x5b,                         // JUMPDEST          loop:
        0x80, 0x80, 0x52,             // DUP1 DUP1 MSTORE  mem[i] = i
        0x80, 0x5f, 0x5f, 0xa1,       // DUP1 PUSH0 PUSH0 LOG1(0, 0, topic i)
        0x62, 0x00, 0x80, 0x00, 0x01, // PUSH3 0x8000 ADD  i += 32 KiB
        0x80, 0x63, limit[0], limit[1], limit[2], limit[3], // DUP1 PUSH4 limit
        0x11, 0x60, 0x01, 0x57,       // GT PUSH1 1 JUMPI  while limit > i
        0x00,                         // STOP
    ];
    pre.insert_account(GROWER, U256::ZERO, 1, Bytes::from(code.to_vec()), []);
    workload(
        format!("memory_growth_{kib}k"),
        pre,
        vec![tx(&s, 0, TxKind::Call(GROWER), Bytes::new(), 30_000_000)],
    )
}

/// Ethereum's `VMTests/vmPerformance` state tests (`loopMul`, `loopExp`,
/// `performanceTester`) from the fixtures beside the repository, each case a block
/// of its own (`loopExp/3`); none if the fixtures are missing.
pub fn vm_performance() -> Result<Vec<Workload>, String> {
    let dir = crate::statetest::fixtures_dir().join("VMTests/vmPerformance");
    let mut out = Vec::new();
    for file in ["loopMul", "loopExp", "performanceTester"] {
        let path = dir.join(format!("{file}.json"));
        if !path.exists() {
            continue;
        }
        for (_, pre, block) in crate::statetest::blocks(&path, "Cancun")? {
            for (i, tx) in block.txs.iter().enumerate() {
                out.push(Workload {
                    name: format!("{file}/{i}"),
                    pre: pre.clone(),
                    block: BlockInput {
                        txs: vec![tx.clone()],
                        ..block.clone()
                    },
                    must_succeed: false,
                });
            }
        }
    }
    Ok(out)
}

/// The three workloads at the sizes `molt bench execution` uses.
pub fn standard() -> Vec<Workload> {
    vec![erc20_transfers(200), compute(16, 3000), deployments(40)]
}

/// ABI encoding of calls with static 32-byte arguments — all these benches need.
pub mod calldata {
    use alloy_primitives::{B256, Bytes, keccak256};

    /// A 32-byte word as bytes.
    pub fn word(w: B256) -> [u8; 32] {
        w.0
    }

    /// Calldata: the function selector, then each 32-byte argument.
    pub fn call(signature: &str, args: &[B256]) -> Bytes {
        let mut data = keccak256(signature.as_bytes())[..4].to_vec();
        for a in args {
            data.extend_from_slice(a.as_slice());
        }
        data.into()
    }
}
