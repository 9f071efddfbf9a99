"""An embedded Starknet devnet speaking the Starknet JSON-RPC specification."""
