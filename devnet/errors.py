"""Errors with the codes and messages of the Starknet JSON-RPC specification (0.10)."""

from __future__ import annotations

from typing import Any, ClassVar


class RpcError(Exception):
    """An error answered as a JSON-RPC error object; subclasses fix code and message."""

    code: ClassVar[int] = -32603
    message: ClassVar[str] = "Internal error"

    def __init__(self, data: Any = None) -> None:
        super().__init__(f"{self.message}: {data}" if data is not None else self.message)
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def _error(name: str, code: int, message: str) -> type[RpcError]:
    return type(name, (RpcError,), {"code": code, "message": message, "__doc__": message})


# JSON-RPC 2.0 protocol errors.
ParseError = _error("ParseError", -32700, "Parse error")
InvalidRequest = _error("InvalidRequest", -32600, "Invalid Request")
MethodNotFound = _error("MethodNotFound", -32601, "Method not found")
InvalidParams = _error("InvalidParams", -32602, "Invalid params")
InternalError = _error("InternalError", -32603, "Internal error")

# Starknet API errors.
NoTraceAvailable = _error("NoTraceAvailable", 10, "No trace available for transaction")
ContractNotFound = _error("ContractNotFound", 20, "Contract not found")
BlockNotFound = _error("BlockNotFound", 24, "Block not found")
InvalidTxnIndex = _error("InvalidTxnIndex", 27, "Invalid transaction index in a block")
ClassHashNotFound = _error("ClassHashNotFound", 28, "Class hash not found")
TxnHashNotFound = _error("TxnHashNotFound", 29, "Transaction hash not found")
PageSizeTooBig = _error("PageSizeTooBig", 31, "Requested page size is too big")
InvalidContinuationToken = _error(
    "InvalidContinuationToken", 33, "The supplied continuation token is invalid or unknown")
TooManyKeysInFilter = _error("TooManyKeysInFilter", 34, "Too many keys provided in a filter")
ContractError = _error("ContractError", 40, "Contract error")
TransactionExecutionError = _error(
    "TransactionExecutionError", 41, "Transaction execution error")
ClassAlreadyDeclared = _error("ClassAlreadyDeclared", 51, "Class already declared")
InvalidTransactionNonce = _error("InvalidTransactionNonce", 52, "Invalid transaction nonce")
InsufficientResourcesForValidate = _error(
    "InsufficientResourcesForValidate", 53,
    "The transaction's resources don't cover validation or the minimal transaction fee")
InsufficientAccountBalance = _error(
    "InsufficientAccountBalance", 54,
    "Account balance is smaller than the transaction's maximal fee (calculated as the sum of "
    "each resource's limit x max price)")
ValidationFailure = _error("ValidationFailure", 55, "Account validation failed")
CompilationFailed = _error("CompilationFailed", 56, "Compilation failed")
DuplicateTx = _error(
    "DuplicateTx", 59, "A transaction with the same hash already exists in the mempool")
CompiledClassHashMismatch = _error(
    "CompiledClassHashMismatch", 60,
    "the compiled class hash did not match the one supplied in the transaction")
UnsupportedTxVersion = _error(
    "UnsupportedTxVersion", 61, "the transaction version is not supported")
UnsupportedContractClassVersion = _error(
    "UnsupportedContractClassVersion", 62, "the contract class version is not supported")


class WorkerFailed(Exception):
    """The `__validate__` worker could not answer for the devnet's state (the devnet then
    validates itself); `reason` names why, as its counter in `devnet_stageTimes`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
