// Sample contract for checks and benchmarks: storage, events, nested calls, reverts.
use starknet::ContractAddress;

#[starknet::interface]
trait ISample<TContractState> {
    fn set(ref self: TContractState, key: felt252, value: felt252);
    fn get(self: @TContractState, key: felt252) -> felt252;
    fn increase(ref self: TContractState, amount: felt252);
    fn counter(self: @TContractState) -> felt252;
    fn fail(ref self: TContractState, message: felt252);
    fn increase_other(ref self: TContractState, other: ContractAddress, amount: felt252);
}

#[starknet::contract]
mod Sample {
    use starknet::{ContractAddress, get_caller_address};
    use super::{ISampleDispatcher, ISampleDispatcherTrait};

    #[storage]
    struct Storage {
        values: LegacyMap<felt252, felt252>,
        counter: felt252,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        Increased: Increased,
    }

    #[derive(Drop, starknet::Event)]
    struct Increased {
        #[key]
        caller: ContractAddress,
        amount: felt252,
        total: felt252,
    }

    #[external(v0)]
    impl SampleImpl of super::ISample<ContractState> {
        fn set(ref self: ContractState, key: felt252, value: felt252) {
            self.values.write(key, value);
        }

        fn get(self: @ContractState, key: felt252) -> felt252 {
            self.values.read(key)
        }

        fn increase(ref self: ContractState, amount: felt252) {
            assert(amount != 0, 'Sample: amount is zero');
            let total = self.counter.read() + amount;
            self.counter.write(total);
            self.emit(Increased { caller: get_caller_address(), amount, total });
        }

        fn counter(self: @ContractState) -> felt252 {
            self.counter.read()
        }

        fn fail(ref self: ContractState, message: felt252) {
            self.counter.write(self.counter.read() + 1);
            panic_with_felt252(message);
        }

        fn increase_other(ref self: ContractState, other: ContractAddress, amount: felt252) {
            ISampleDispatcher { contract_address: other }.increase(amount);
        }
    }
}
