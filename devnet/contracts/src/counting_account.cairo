// An account whose `__validate__` writes state: it counts the transactions it validated.
// Stark-curve ECDSA over the transaction hash, signature = [r, s].
use starknet::account::Call;

#[starknet::interface]
trait ICountingAccount<TContractState> {
    fn __execute__(ref self: TContractState, calls: Array<Call>) -> Array<Span<felt252>>;
    fn __validate__(ref self: TContractState, calls: Array<Call>) -> felt252;
    fn validations(self: @TContractState) -> felt252;
}

#[starknet::contract]
mod CountingAccount {
    use array::{ArrayTrait, SpanTrait};
    use box::BoxTrait;
    use ecdsa::check_ecdsa_signature;
    use option::OptionTrait;
    use starknet::account::Call;
    use starknet::{get_caller_address, get_tx_info, call_contract_syscall};
    use zeroable::Zeroable;

    #[storage]
    struct Storage {
        public_key: felt252,
        validations: felt252,
    }

    #[constructor]
    fn constructor(ref self: ContractState, public_key: felt252) {
        self.public_key.write(public_key);
    }

    #[external(v0)]
    impl CountingAccountImpl of super::ICountingAccount<ContractState> {
        fn __execute__(ref self: ContractState, mut calls: Array<Call>) -> Array<Span<felt252>> {
            assert(get_caller_address().is_zero(), 'Account: invalid caller');
            let mut results = ArrayTrait::new();
            loop {
                match calls.pop_front() {
                    Option::Some(call) => {
                        let result = call_contract_syscall(
                            call.to, call.selector, call.calldata.span()
                        )
                            .unwrap_syscall();
                        results.append(result);
                    },
                    Option::None(()) => {
                        break;
                    },
                };
            };
            results
        }

        fn __validate__(ref self: ContractState, calls: Array<Call>) -> felt252 {
            let tx_info = get_tx_info().unbox();
            let signature = tx_info.signature;
            assert(signature.len() == 2, 'Account: invalid signature');
            assert(
                check_ecdsa_signature(
                    tx_info.transaction_hash, self.public_key.read(), *signature.at(0),
                    *signature.at(1)
                ),
                'Account: invalid signature'
            );
            self.validations.write(self.validations.read() + 1);
            'VALID'
        }

        fn validations(self: @ContractState) -> felt252 {
            self.validations.read()
        }
    }
}
