// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// The upgrade authority of a molt chain: the system contract at
/// 0x000000000000000000000000000000006d6f6c74 ("molt"), placed in genesis.
///
/// An authority (set in genesis storage) schedules a signed module, named by the
/// SHA-256 digest of its package, to take over its slot from block `height` on. Every
/// node reads the `Scheduled` events of the blocks it executes and swaps exactly there,
/// if the package is signed by one of the publishers named here.
contract MoltUpgrades {
    /// Who may schedule upgrades (slot 0; written at genesis).
    mapping(address => bool) public authority;

    /// The ed25519 public keys execution and consensus modules must be signed with
    /// (slot 1; written at genesis).
    mapping(bytes32 => bool) public publisher;

    /// `digest`'s module runs every block from `height` on.
    event Scheduled(bytes32 indexed digest, uint64 height, address indexed by);

    function schedule(bytes32 digest, uint64 height) external {
        require(authority[msg.sender], "molt: not an upgrade authority");
        require(height > block.number, "molt: activation height must be above this block");
        emit Scheduled(digest, height, msg.sender);
    }
}
