// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

/// The cheatcodes this test uses (forge-std is not vendored: nothing here needs it).
interface Vm {
    function envAddress(string calldata name) external view returns (address);
    function envUint(string calldata name) external view returns (uint256);
}

/// Runs on a fork of a molt node at a past block: what it reads is the state then.
/// The target returns its slot 0 when called without data and stores the first
/// calldata word there otherwise.
contract ForkTest {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function testReadsTheStateOfTheForkBlock() public {
        address target = vm.envAddress("MOLT_TARGET");
        require(block.number == vm.envUint("MOLT_BLOCK"), "not the fork block");
        require(target.code.length > 0, "no code at the fork block");
        require(slot0(target) == vm.envUint("MOLT_VALUE"), "not the value then");

        // Writes stay in the fork.
        (bool ok,) = target.call(abi.encode(uint256(1234)));
        require(ok, "store failed");
        require(slot0(target) == 1234, "fork did not keep the write");
    }

    function slot0(address target) internal view returns (uint256) {
        (bool ok, bytes memory out) = target.staticcall("");
        require(ok && out.length == 32, "read failed");
        return abi.decode(out, (uint256));
    }
}
