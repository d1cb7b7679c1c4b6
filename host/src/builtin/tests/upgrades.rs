//! Upgrade announcements on a real chain: who may send them, what they schedule,
//! what a revert and a reopen do to them.

use alloy_consensus::TxEip1559;
use alloy_primitives::{B256, Bytes, TxKind, U256};
use ed25519_dalek::SigningKey;

use std::sync::Arc;

use molt_chain::signer::Signer;
use molt_chain::upgrades::*;
use molt_chain::{Chain, ChainConfig, Modules};
use molt_upgrade_proxy::router::VersionInfo;

const ETH: u128 = 1_000_000_000_000_000_000;

/// A store holding one package: the native execution module under `digest`.
struct OneModule(B256);

impl ModuleStore for OneModule {
    fn load(&self, digest: &B256) -> Result<Staged, Unavailable> {
        if *digest != self.0 {
            return Err(Unavailable::NotStaged);
        }
        Ok(Staged::Execution(
            crate::builtin::native_executor(),
            VersionInfo {
                name: "execution-native".into(),
                version: "9.0.0".into(),
                digest: hex::encode(digest),
            },
        ))
    }
}

fn accounts() -> Vec<Signer> {
    crate::dev_accounts::signers(2).unwrap()
}

fn open(db: molt_storage::Db, store: impl ModuleStore + 'static) -> Chain {
    let alloc: Vec<_> = accounts()
        .iter()
        .map(|s| (s.address(), U256::from(100 * ETH)))
        .collect();
    let modules = Modules {
        execution: crate::builtin::native_executor(),
        consensus: crate::builtin::native_consensus(),
        store: Arc::new(store),
    };
    Chain::open(
        db,
        modules,
        ChainConfig {
            upgrade_authorities: vec![accounts()[0].address()],
            module_publishers: vec![[9; 32]],
            ..ChainConfig::dev()
        },
        SigningKey::from_bytes(&[7; 32]),
        &alloc,
    )
    .unwrap()
}

fn schedule(chain: &Chain, from: &Signer, digest: B256, height: u64) -> B256 {
    let nonce = chain.pending_nonce(&from.address()).unwrap();
    let raw = from.sign(TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(UPGRADE_ADDRESS),
        value: U256::ZERO,
        access_list: Default::default(),
        input: schedule_calldata(&digest, height),
    });
    let hash = chain.submit(raw).unwrap();
    chain.mine(0).unwrap();
    hash
}

fn status_of(chain: &Chain, tx: &B256) -> bool {
    let (block, index) = chain.db().transaction_location(tx).unwrap().unwrap();
    chain.db().receipts(block).unwrap().unwrap()[index as usize].status()
}

#[test]
fn the_genesis_contract_is_the_committed_code_with_its_authorities() {
    let chain = open(molt_storage::Db::temporary().unwrap(), NoStagedModules);
    let (a, b) = (accounts()[0].address(), accounts()[1].address());
    assert!(chain.is_upgrade_authority(&a).unwrap());
    assert!(!chain.is_upgrade_authority(&b).unwrap());
    assert!(is_publisher(chain.db(), &[9; 32]).unwrap());
    assert!(!is_publisher(chain.db(), &[8; 32]).unwrap());
    use molt_storage::state::StateView;
    let account = chain.db().account(&UPGRADE_ADDRESS).unwrap().unwrap();
    let code = chain.db().code(&account.code_hash).unwrap().unwrap();
    assert_eq!(hex::encode(code), RUNTIME_CODE_HEX.trim());
    // The genesis state root covers the contract.
    assert_eq!(
        chain.head().header.state_root,
        chain.db().state_root().unwrap()
    );
}

#[test]
fn an_authority_schedules_and_everyone_else_is_refused_by_the_contract() {
    let chain = open(molt_storage::Db::temporary().unwrap(), NoStagedModules);
    let digest = B256::repeat_byte(0xab);
    let (authority, other) = (&accounts()[0], &accounts()[1]);

    // Not an authority: the transaction is mined, reverted, and schedules nothing.
    let tx = schedule(&chain, other, digest, 10);
    assert!(!status_of(&chain, &tx));
    // An activation height not above the announcing block: reverted too.
    let tx = schedule(&chain, authority, digest, 2);
    assert!(!status_of(&chain, &tx));
    assert!(chain.upgrades().is_empty());

    let tx = schedule(&chain, authority, digest, 6);
    assert!(status_of(&chain, &tx));
    let upgrades = chain.upgrades();
    assert_eq!(upgrades.len(), 1);
    let a = &upgrades[0].announcement;
    assert_eq!(
        (a.digest, a.height, a.authority, a.block, a.tx),
        (digest, 6, authority.address(), 3, tx)
    );
    // No store: the chain knows what is scheduled but cannot run it.
    assert!(upgrades[0].module.is_err());
    assert!(chain.executor_at(5).is_ok());
    let e = chain.executor_at(6).unwrap_err().to_string();
    assert!(
        e.contains("block 6 needs module") && e.contains("molt module stage"),
        "{e}"
    );
}

#[test]
fn the_chain_stops_at_a_height_whose_module_it_lacks_until_it_is_staged() {
    let db = molt_storage::Db::temporary().unwrap();
    let digest = B256::repeat_byte(0x11);
    let chain = open(db.clone(), OneModule(B256::ZERO));
    schedule(&chain, &accounts()[0], digest, 3);
    chain.mine(0).unwrap(); // block 2
    let e = chain.mine(0).unwrap_err().to_string();
    assert!(e.contains("block 3 needs module"), "{e}");
    assert_eq!(chain.head_number(), 2);
    drop(chain);

    // Reopened with the package staged: the announcement is read from history and
    // block 3 is produced by the scheduled module.
    let chain = open(db, OneModule(digest));
    let upgrades = chain.upgrades();
    assert_eq!(upgrades.len(), 1);
    assert_eq!(upgrades[0].module.as_ref().unwrap().info().version, "9.0.0");
    chain.mine(0).unwrap();
    assert_eq!(chain.head_number(), 3);
}

#[test]
fn a_revert_below_the_announcement_forgets_it() {
    let chain = open(
        molt_storage::Db::temporary().unwrap(),
        OneModule(B256::repeat_byte(1)),
    );
    chain.mine(0).unwrap();
    schedule(&chain, &accounts()[0], B256::repeat_byte(1), 10);
    assert_eq!(chain.upgrades().len(), 1);
    assert!(chain.revert_to(1).unwrap());
    assert!(chain.upgrades().is_empty());
    assert!(chain.executor_at(10).is_ok());
}

#[test]
fn calldata_is_the_solidity_abi_encoding() {
    let data = schedule_calldata(&B256::repeat_byte(0xcd), 0x1234);
    assert_eq!(hex::encode(&data[..4]), "2eb9fbb1");
    assert_eq!(&data[4..36], B256::repeat_byte(0xcd).as_slice());
    assert_eq!(U256::from_be_slice(&data[36..]), U256::from(0x1234));
    assert_eq!(data.len(), 68);
    let _: Bytes = data;
}
