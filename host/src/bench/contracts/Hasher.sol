// SPDX-License-Identifier: MIT
// Compute-heavy work for the execution benches: a keccak and arithmetic loop.
pragma solidity ^0.8.28;

contract Hasher {
    uint256 public last;

    function work(uint256 rounds) external returns (bytes32 h) {
        h = bytes32(rounds);
        uint256 acc = 1;
        for (uint256 i = 0; i < rounds; i++) {
            h = keccak256(abi.encodePacked(h, i));
            unchecked {
                acc = acc * 6364136223846793005 + uint256(h);
            }
        }
        last = acc;
    }
}
