//! From the ABI's block environment to revm's configuration.

use molt_abi::GuestError;
use molt_abi::execution::BlockEnv;
use revm::context::{BlockEnv as RevmBlock, CfgEnv};
use revm::primitives::U256;
use revm::primitives::hardfork::SpecId;

/// revm's configuration and block for `env`.
pub fn revm_env(env: &BlockEnv) -> Result<(CfgEnv, RevmBlock), GuestError> {
    let spec: SpecId = env
        .spec
        .parse()
        .map_err(|_| GuestError::new(format!("unknown spec {:?}", env.spec)))?;
    let mut cfg = CfgEnv::new_with_spec(spec);
    cfg.set_spec_and_mainnet_gas_params(spec);
    cfg.chain_id = env.chain_id;
    cfg.set_max_blobs_per_tx(
        if spec.is_enabled_in(SpecId::PRAGUE) && !spec.is_enabled_in(SpecId::OSAKA) {
            9
        } else {
            6
        },
    );
    let mut block = RevmBlock {
        number: U256::from(env.number),
        beneficiary: env.coinbase,
        timestamp: U256::from(env.timestamp),
        gas_limit: env.gas_limit,
        basefee: env.base_fee,
        difficulty: env.difficulty,
        prevrandao: spec.is_enabled_in(SpecId::MERGE).then_some(env.prevrandao),
        ..RevmBlock::default()
    };
    if spec.is_enabled_in(SpecId::CANCUN) {
        block.set_blob_excess_gas_and_price(
            env.excess_blob_gas,
            cfg.blob_base_fee_update_fraction(),
        );
    }
    Ok((cfg, block))
}
