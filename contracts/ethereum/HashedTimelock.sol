// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Hashed time locks for ether: the Ethereum leg of a bftx atomic swap.
/// @notice A sender locks ether for a fixed receiver under a SHA-256 hashlock and a
/// timelock (a block timestamp in seconds). Before the timelock anyone may withdraw
/// by revealing the 32-byte preimage; the ether always goes to the receiver, so a
/// front-runner gains nothing. From the timelock on, anyone may refund it to the
/// sender. The preimage is kept in storage and carried by the Withdrawn event, so
/// a watcher on the other chain can read it either way.
/// @dev The hashlock is SHA-256 (not keccak) because the bftx HTLC uses SHA-256:
/// one secret unlocks both legs.
contract HashedTimelock {
    enum State {
        None,
        Open,
        Withdrawn,
        Refunded
    }

    struct Lock {
        address sender;
        address receiver;
        uint256 amount;
        bytes32 hashlock;
        uint64 timelock;
        State state;
        bytes32 preimage;
    }

    /// @notice Every lock ever made, by id. Entries are never deleted.
    mapping(bytes32 => Lock) private locks;

    event Locked(
        bytes32 indexed id,
        address indexed sender,
        address indexed receiver,
        uint256 amount,
        bytes32 hashlock,
        uint64 timelock
    );
    event Withdrawn(bytes32 indexed id, bytes32 indexed hashlock, bytes32 preimage);
    event Refunded(bytes32 indexed id);

    error ZeroAmount();
    error ZeroReceiver();
    error TimelockNotInFuture(uint64 timelock, uint256 blockTimestamp);
    error LockExists(bytes32 id);
    error UnknownLock(bytes32 id);
    error NotOpen(bytes32 id, State state);
    error WrongPreimage(bytes32 id);
    error Expired(bytes32 id, uint64 timelock);
    error NotExpired(bytes32 id, uint64 timelock);
    error TransferFailed(bytes32 id);

    /// @notice The id a lock with these terms gets: deterministic, so both parties
    /// can compute it before the lock is mined. The same terms cannot be locked twice.
    function lockId(
        address sender,
        address receiver,
        uint256 amount,
        bytes32 hashlock,
        uint64 timelock
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(sender, receiver, amount, hashlock, timelock));
    }

    /// @notice Lock the ether sent with this call for `receiver`.
    function lock(address receiver, bytes32 hashlock, uint64 timelock)
        external
        payable
        returns (bytes32 id)
    {
        if (msg.value == 0) revert ZeroAmount();
        if (receiver == address(0)) revert ZeroReceiver();
        if (timelock <= block.timestamp) revert TimelockNotInFuture(timelock, block.timestamp);
        id = lockId(msg.sender, receiver, msg.value, hashlock, timelock);
        if (locks[id].state != State.None) revert LockExists(id);
        locks[id] = Lock(msg.sender, receiver, msg.value, hashlock, timelock, State.Open, bytes32(0));
        emit Locked(id, msg.sender, receiver, msg.value, hashlock, timelock);
    }

    /// @notice Pay the lock to its receiver; anyone holding the preimage may call it,
    /// strictly before the timelock.
    function withdraw(bytes32 id, bytes32 preimage) external {
        Lock storage entry = _open(id);
        if (sha256(abi.encodePacked(preimage)) != entry.hashlock) revert WrongPreimage(id);
        if (block.timestamp >= entry.timelock) revert Expired(id, entry.timelock);
        entry.state = State.Withdrawn;
        entry.preimage = preimage;
        emit Withdrawn(id, entry.hashlock, preimage);
        _pay(id, entry.receiver, entry.amount);
    }

    /// @notice Return the lock to its sender; anyone may call it, from the timelock on.
    function refund(bytes32 id) external {
        Lock storage entry = _open(id);
        if (block.timestamp < entry.timelock) revert NotExpired(id, entry.timelock);
        entry.state = State.Refunded;
        emit Refunded(id);
        _pay(id, entry.sender, entry.amount);
    }

    /// @notice The lock's terms, state and (once withdrawn) preimage.
    function getLock(bytes32 id) external view returns (Lock memory) {
        return locks[id];
    }

    function _open(bytes32 id) private view returns (Lock storage entry) {
        entry = locks[id];
        if (entry.state == State.None) revert UnknownLock(id);
        if (entry.state != State.Open) revert NotOpen(id, entry.state);
    }

    function _pay(bytes32 id, address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(id);
    }
}
