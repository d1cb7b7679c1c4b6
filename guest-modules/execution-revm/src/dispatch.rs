//! revm's interpreter loop, with the mainnet instructions dispatched by `match`.
//!
//! revm runs a frame by calling each opcode's function through a table of function
//! pointers. In WebAssembly every such call is a `call_indirect` (a table bounds
//! check, a signature check) into a function with its own prologue (stack-limit,
//! fuel and epoch checks, callee-saved registers): on compute-heavy contracts that
//! overhead was most of the module's time. Here the same functions are reached from
//! one `match`, which the compiler turns into a jump table and into which it inlines
//! the small instructions — in WebAssembly and natively alike, so both engines still
//! run identical code.
//!
//! [`MatchHandler`] is revm's mainnet handler with only its execution loop replaced;
//! [`transact`] and [`transact_commit`] stand in for revm's methods of those names.
//! The arms of [`execute`] are revm's `instruction_table` (revm-interpreter
//! `instructions.rs`), opcode for opcode, except `MUL` and `EXP`, whose products
//! [`crate::arith`] computes without 128-bit multiplies. The test at the bottom runs
//! every opcode both ways and compares what each did — rerun it when revm is upgraded.

use std::marker::PhantomData;

use revm::bytecode::opcode::*;
use revm::context::Evm;
use revm::context::result::{
    EVMError, ExecResultAndState, ExecutionResult, HaltReason, InvalidTransaction,
};
use revm::context_interface::{ContextSetters, ContextTr, JournalTr};
use revm::handler::evm::ContextDbError;
use revm::handler::instructions::InstructionProvider;
use revm::handler::{
    EthFrame, EvmTr, FrameInitOrResult, FrameResult, Handler, ItemOrResult, PrecompileProvider,
};
use revm::interpreter::instructions::{
    arithmetic, bitwise, block_info, contract, control, host, memory, stack, system, tx_info,
};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_action::FrameInit;
use revm::interpreter::interpreter_types::{Jumps, LoopControl};
use revm::interpreter::{
    GasTable, Host, InstructionContext, InstructionExecResult, InstructionResult, Interpreter,
    InterpreterAction, InterpreterResult,
};
use revm::state::EvmState;
use revm::{Database, DatabaseCommit, ExecuteCommitEvm, ExecuteEvm};

use crate::arith;

/// Executes one mainnet instruction: the function revm's `instruction_table` holds
/// for `opcode`.
#[inline(always)]
fn execute<H: Host + ?Sized>(
    opcode: u8,
    ctx: InstructionContext<'_, H, EthInterpreter>,
) -> InstructionExecResult {
    match opcode {
        STOP => control::stop(ctx),
        ADD => arithmetic::add(ctx),
        MUL => arith::mul(ctx),
        SUB => arithmetic::sub(ctx),
        DIV => arithmetic::div(ctx),
        SDIV => arithmetic::sdiv(ctx),
        MOD => arithmetic::rem(ctx),
        SMOD => arithmetic::smod(ctx),
        ADDMOD => arithmetic::addmod(ctx),
        MULMOD => arithmetic::mulmod(ctx),
        EXP => arith::exp(ctx),
        SIGNEXTEND => arithmetic::signextend(ctx),
        LT => bitwise::lt(ctx),
        GT => bitwise::gt(ctx),
        SLT => bitwise::slt(ctx),
        SGT => bitwise::sgt(ctx),
        EQ => bitwise::eq(ctx),
        ISZERO => bitwise::iszero(ctx),
        AND => bitwise::bitand(ctx),
        OR => bitwise::bitor(ctx),
        XOR => bitwise::bitxor(ctx),
        NOT => bitwise::not(ctx),
        BYTE => bitwise::byte(ctx),
        SHL => bitwise::shl(ctx),
        SHR => bitwise::shr(ctx),
        SAR => bitwise::sar(ctx),
        CLZ => bitwise::clz(ctx),
        KECCAK256 => system::keccak256(ctx),
        ADDRESS => system::address(ctx),
        BALANCE => host::balance(ctx),
        ORIGIN => tx_info::origin(ctx),
        CALLER => system::caller(ctx),
        CALLVALUE => system::callvalue(ctx),
        CALLDATALOAD => system::calldataload(ctx),
        CALLDATASIZE => system::calldatasize(ctx),
        CALLDATACOPY => system::calldatacopy(ctx),
        CODESIZE => system::codesize(ctx),
        CODECOPY => system::codecopy(ctx),
        GASPRICE => tx_info::gasprice(ctx),
        EXTCODESIZE => host::extcodesize(ctx),
        EXTCODECOPY => host::extcodecopy(ctx),
        RETURNDATASIZE => system::returndatasize(ctx),
        RETURNDATACOPY => system::returndatacopy(ctx),
        EXTCODEHASH => host::extcodehash(ctx),
        BLOCKHASH => host::blockhash(ctx),
        COINBASE => block_info::coinbase(ctx),
        TIMESTAMP => block_info::timestamp(ctx),
        NUMBER => block_info::block_number(ctx),
        DIFFICULTY => block_info::difficulty(ctx),
        GASLIMIT => block_info::gaslimit(ctx),
        CHAINID => block_info::chainid(ctx),
        SELFBALANCE => host::selfbalance(ctx),
        BASEFEE => block_info::basefee(ctx),
        BLOBHASH => tx_info::blob_hash(ctx),
        BLOBBASEFEE => block_info::blob_basefee(ctx),
        SLOTNUM => block_info::slot_num(ctx),
        POP => stack::pop(ctx),
        MLOAD => memory::mload(ctx),
        MSTORE => memory::mstore(ctx),
        MSTORE8 => memory::mstore8(ctx),
        SLOAD => host::sload(ctx),
        SSTORE => host::sstore(ctx),
        JUMP => control::jump(ctx),
        JUMPI => control::jumpi(ctx),
        PC => control::pc(ctx),
        MSIZE => memory::msize(ctx),
        GAS => system::gas(ctx),
        JUMPDEST => control::jumpdest(ctx),
        TLOAD => host::tload(ctx),
        TSTORE => host::tstore(ctx),
        MCOPY => memory::mcopy(ctx),
        PUSH0 => stack::push0(ctx),
        PUSH1 => stack::push::<1, _, _>(ctx),
        PUSH2 => stack::push::<2, _, _>(ctx),
        PUSH3 => stack::push::<3, _, _>(ctx),
        PUSH4 => stack::push::<4, _, _>(ctx),
        PUSH5 => stack::push::<5, _, _>(ctx),
        PUSH6 => stack::push::<6, _, _>(ctx),
        PUSH7 => stack::push::<7, _, _>(ctx),
        PUSH8 => stack::push::<8, _, _>(ctx),
        PUSH9 => stack::push::<9, _, _>(ctx),
        PUSH10 => stack::push::<10, _, _>(ctx),
        PUSH11 => stack::push::<11, _, _>(ctx),
        PUSH12 => stack::push::<12, _, _>(ctx),
        PUSH13 => stack::push::<13, _, _>(ctx),
        PUSH14 => stack::push::<14, _, _>(ctx),
        PUSH15 => stack::push::<15, _, _>(ctx),
        PUSH16 => stack::push::<16, _, _>(ctx),
        PUSH17 => stack::push::<17, _, _>(ctx),
        PUSH18 => stack::push::<18, _, _>(ctx),
        PUSH19 => stack::push::<19, _, _>(ctx),
        PUSH20 => stack::push::<20, _, _>(ctx),
        PUSH21 => stack::push::<21, _, _>(ctx),
        PUSH22 => stack::push::<22, _, _>(ctx),
        PUSH23 => stack::push::<23, _, _>(ctx),
        PUSH24 => stack::push::<24, _, _>(ctx),
        PUSH25 => stack::push::<25, _, _>(ctx),
        PUSH26 => stack::push::<26, _, _>(ctx),
        PUSH27 => stack::push::<27, _, _>(ctx),
        PUSH28 => stack::push::<28, _, _>(ctx),
        PUSH29 => stack::push::<29, _, _>(ctx),
        PUSH30 => stack::push::<30, _, _>(ctx),
        PUSH31 => stack::push::<31, _, _>(ctx),
        PUSH32 => stack::push::<32, _, _>(ctx),
        DUP1 => stack::dup::<1, _, _>(ctx),
        DUP2 => stack::dup::<2, _, _>(ctx),
        DUP3 => stack::dup::<3, _, _>(ctx),
        DUP4 => stack::dup::<4, _, _>(ctx),
        DUP5 => stack::dup::<5, _, _>(ctx),
        DUP6 => stack::dup::<6, _, _>(ctx),
        DUP7 => stack::dup::<7, _, _>(ctx),
        DUP8 => stack::dup::<8, _, _>(ctx),
        DUP9 => stack::dup::<9, _, _>(ctx),
        DUP10 => stack::dup::<10, _, _>(ctx),
        DUP11 => stack::dup::<11, _, _>(ctx),
        DUP12 => stack::dup::<12, _, _>(ctx),
        DUP13 => stack::dup::<13, _, _>(ctx),
        DUP14 => stack::dup::<14, _, _>(ctx),
        DUP15 => stack::dup::<15, _, _>(ctx),
        DUP16 => stack::dup::<16, _, _>(ctx),
        SWAP1 => stack::swap::<1, _, _>(ctx),
        SWAP2 => stack::swap::<2, _, _>(ctx),
        SWAP3 => stack::swap::<3, _, _>(ctx),
        SWAP4 => stack::swap::<4, _, _>(ctx),
        SWAP5 => stack::swap::<5, _, _>(ctx),
        SWAP6 => stack::swap::<6, _, _>(ctx),
        SWAP7 => stack::swap::<7, _, _>(ctx),
        SWAP8 => stack::swap::<8, _, _>(ctx),
        SWAP9 => stack::swap::<9, _, _>(ctx),
        SWAP10 => stack::swap::<10, _, _>(ctx),
        SWAP11 => stack::swap::<11, _, _>(ctx),
        SWAP12 => stack::swap::<12, _, _>(ctx),
        SWAP13 => stack::swap::<13, _, _>(ctx),
        SWAP14 => stack::swap::<14, _, _>(ctx),
        SWAP15 => stack::swap::<15, _, _>(ctx),
        SWAP16 => stack::swap::<16, _, _>(ctx),
        DUPN => stack::dupn(ctx),
        SWAPN => stack::swapn(ctx),
        EXCHANGE => stack::exchange(ctx),
        LOG0 => host::log::<0, _>(ctx),
        LOG1 => host::log::<1, _>(ctx),
        LOG2 => host::log::<2, _>(ctx),
        LOG3 => host::log::<3, _>(ctx),
        LOG4 => host::log::<4, _>(ctx),
        CREATE => contract::create::<false, _, _>(ctx),
        CALL => contract::call::<CALL, _, _>(ctx),
        CALLCODE => contract::call::<CALLCODE, _, _>(ctx),
        RETURN => control::ret(ctx),
        DELEGATECALL => contract::call::<DELEGATECALL, _, _>(ctx),
        CREATE2 => contract::create::<true, _, _>(ctx),
        STATICCALL => contract::call::<STATICCALL, _, _>(ctx),
        REVERT => control::revert(ctx),
        INVALID => control::invalid(ctx),
        SELFDESTRUCT => host::selfdestruct(ctx),
        _ => control::unknown(ctx),
    }
}

/// Runs `interpreter` until it returns or stops: revm's `Interpreter::run_plain`,
/// dispatching through [`execute`] instead of a function table.
fn run<H: Host + ?Sized>(
    interpreter: &mut Interpreter<EthInterpreter>,
    gas_table: &GasTable,
    host: &mut H,
) -> InterpreterAction {
    let stop = loop {
        let opcode = interpreter.bytecode.opcode();
        // Bytecode is padded with STOP, so stepping past the last opcode is safe.
        interpreter.bytecode.relative_jump(1);
        if interpreter
            .gas
            .record_cost_unsafe(u64::from(gas_table[usize::from(opcode)]))
        {
            break InstructionResult::OutOfGas;
        }
        let ctx = InstructionContext {
            interpreter: &mut *interpreter,
            host: &mut *host,
        };
        if let Err(stop) = execute(opcode, ctx) {
            break stop;
        }
    };
    if interpreter.bytecode.action().is_none() {
        interpreter.halt(stop);
    }
    interpreter.take_next_action()
}

/// revm's mainnet handler whose frames run through [`run`].
pub struct MatchHandler<EVM, ERROR> {
    _types: PhantomData<(EVM, ERROR)>,
}

impl<EVM, ERROR> Default for MatchHandler<EVM, ERROR> {
    fn default() -> Self {
        Self {
            _types: PhantomData,
        }
    }
}

impl<EVM, ERROR> Handler for MatchHandler<EVM, ERROR>
where
    EVM: EvmTr<
            Context: ContextTr<Journal: JournalTr<State = EvmState>> + Host,
            Frame = EthFrame<EthInterpreter>,
            Instructions: InstructionProvider<InterpreterTypes = EthInterpreter>,
        >,
    ERROR: revm::handler::EvmTrError<EVM>,
{
    type Evm = EVM;
    type Error = ERROR;
    type HaltReason = HaltReason;

    /// revm's `Handler::run_exec_loop`, with `EvmTr::frame_run` replaced by [`frame_run`].
    fn run_exec_loop(
        &mut self,
        evm: &mut EVM,
        first_frame_input: FrameInit,
    ) -> Result<FrameResult, ERROR> {
        if let ItemOrResult::Result(result) = evm.frame_init(first_frame_input)? {
            return Ok(result);
        }
        loop {
            let result = match frame_run(evm)? {
                ItemOrResult::Item(init) => match evm.frame_init(init)? {
                    ItemOrResult::Item(_) => continue,
                    ItemOrResult::Result(result) => result,
                },
                ItemOrResult::Result(result) => result,
            };
            if let Some(result) = evm.frame_return_result(result)? {
                return Ok(result);
            }
        }
    }
}

/// revm's `EvmTr::frame_run` for `Evm`, running the top frame through [`run`].
fn frame_run<EVM>(
    evm: &mut EVM,
) -> Result<FrameInitOrResult<EthFrame<EthInterpreter>>, ContextDbError<EVM::Context>>
where
    EVM: EvmTr<
            Context: Host,
            Frame = EthFrame<EthInterpreter>,
            Instructions: InstructionProvider<InterpreterTypes = EthInterpreter>,
        >,
{
    let (ctx, instructions, _, frames) = evm.all_mut();
    let frame = frames.get();
    let action = run(&mut frame.interpreter, instructions.gas_table(), ctx);
    let next = frame.process_next_action::<_, ContextDbError<EVM::Context>>(ctx, action)?;
    if next.is_result() {
        frame.set_finished(true);
    }
    Ok(next)
}

/// The error of a transaction in context `CTX`.
pub type TxError<CTX> = EVMError<<<CTX as ContextTr>::Db as Database>::Error, InvalidTransaction>;

/// revm's `ExecuteEvm::transact` through [`MatchHandler`]: runs `tx` and returns its
/// result with the state it changed; the journal is cleared either way.
pub fn transact<CTX, INSP, INST, P>(
    evm: &mut Evm<CTX, INSP, INST, P, EthFrame<EthInterpreter>>,
    tx: CTX::Tx,
) -> Result<ExecResultAndState<ExecutionResult, EvmState>, TxError<CTX>>
where
    CTX: ContextTr<Journal: JournalTr<State = EvmState>> + ContextSetters + Host,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    evm.ctx.set_tx(tx);
    let result = MatchHandler::<_, TxError<CTX>>::default().run(evm);
    let state = evm.finalize();
    Ok(ExecResultAndState::new(result?, state))
}

/// revm's `ExecuteCommitEvm::transact_commit` through [`MatchHandler`]: the changes
/// of a transaction that ran (success, revert or halt) reach the database; those of
/// one refused do not.
pub fn transact_commit<CTX, INSP, INST, P>(
    evm: &mut Evm<CTX, INSP, INST, P, EthFrame<EthInterpreter>>,
    tx: CTX::Tx,
) -> Result<ExecutionResult, TxError<CTX>>
where
    CTX:
        ContextTr<Journal: JournalTr<State = EvmState>, Db: DatabaseCommit> + ContextSetters + Host,
    INST: InstructionProvider<Context = CTX, InterpreterTypes = EthInterpreter>,
    P: PrecompileProvider<CTX, Output = InterpreterResult>,
{
    let out = transact(evm, tx)?;
    evm.commit(out.state);
    Ok(out.result)
}

#[cfg(test)]
mod tests {
    use revm::bytecode::opcode::*;
    use revm::context::{CfgEnv, TxEnv};
    use revm::database::InMemoryDB;
    use revm::primitives::hardfork::SpecId;
    use revm::primitives::{Address, Bytes, TxKind, U256};
    use revm::state::{AccountInfo, Bytecode};
    use revm::{Context, ExecuteEvm, MainBuilder, MainContext};

    const CALLER: Address = Address::new([0xca; 20]);
    const CONTRACT: Address = Address::new([0xc0; 20]);

    /// Code that pushes `stack`, runs `opcode`, stores the top four stack items in
    /// slots 0–3 and returns the first 64 bytes of memory: what the opcode did to the
    /// stack, memory, storage, gas, logs or calls shows in the transaction's outcome.
    fn program(opcode: u8, stack: &[U256]) -> Bytes {
        let mut code = Vec::new();
        for value in stack {
            code.push(PUSH32);
            code.extend_from_slice(&value.to_be_bytes::<32>());
        }
        code.push(opcode);
        for slot in 0..4 {
            code.extend_from_slice(&[PUSH1, slot, SSTORE]);
        }
        code.extend_from_slice(&[PUSH1, 0x40, PUSH1, 0, RETURN]);
        code.into()
    }

    fn db(code: Bytes) -> InMemoryDB {
        let mut db = InMemoryDB::default();
        let eth = U256::from(10).pow(U256::from(18));
        db.insert_account_info(
            CALLER,
            AccountInfo {
                balance: eth,
                ..AccountInfo::default()
            },
        );
        db.insert_account_info(
            CONTRACT,
            AccountInfo {
                balance: eth,
                ..AccountInfo::default()
            }
            .with_code(Bytecode::new_raw(code)),
        );
        db
    }

    /// Stacks to run each opcode on: small numbers (valid offsets, jump targets,
    /// addresses) and large, mixed ones (overflows, signs, out-of-range offsets).
    fn stacks() -> [Vec<U256>; 2] {
        let small = (1..=20u64).map(|i| U256::from(i * 3 % 7 + 1)).collect();
        let mut x = U256::from(0x9e37_79b9_7f4a_7c15_u64);
        let large = (0..20)
            .map(|_| {
                x = x.wrapping_mul(U256::from(0x5851_f42d_4c95_7f2d_u64)) ^ (x >> 61);
                x
            })
            .collect();
        [small, large]
    }

    #[test]
    fn every_opcode_does_what_revms_table_does() {
        for spec in [
            SpecId::FRONTIER,
            SpecId::CANCUN,
            SpecId::OSAKA,
            SpecId::AMSTERDAM,
        ] {
            for stack in stacks() {
                for opcode in 0..=u8::MAX {
                    let code = program(opcode, &stack);
                    let tx = TxEnv::builder()
                        .caller(CALLER)
                        .kind(TxKind::Call(CONTRACT))
                        .gas_limit(1_000_000)
                        .gas_price(0)
                        .build_fill();
                    let evm = |code: &Bytes| {
                        let mut cfg = CfgEnv::new_with_spec(spec);
                        cfg.disable_nonce_check = true;
                        Context::mainnet()
                            .with_db(db(code.clone()))
                            .with_cfg(cfg)
                            .build_mainnet()
                    };
                    let ours = super::transact(&mut evm(&code), tx.clone());
                    let revms = evm(&code).transact(tx);
                    let (ours, revms) = (ours.expect("runs"), revms.expect("runs"));
                    assert_eq!(ours, revms, "opcode {opcode:#04x} under {spec:?}");
                }
            }
        }
    }
}
