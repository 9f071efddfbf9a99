// FactRegistry: verifiers listed by the owner register facts of Cairo runs with the security bits
// of the proof that established them, in the spirit of Integrity's FactRegistry. A fact verified
// by re-executing the program, without a proof, is registered with 0 bits.
// fact = poseidon(program_hash, poseidon(output)).
use starknet::ContractAddress;

#[starknet::interface]
trait IFactRegistry<TContractState> {
    fn register_fact(ref self: TContractState, fact: felt252, security_bits: u32);
    fn is_valid(self: @TContractState, fact: felt252) -> bool;
    fn get_verification(self: @TContractState, fact: felt252) -> u32;
    fn add_verifier(ref self: TContractState, verifier: ContractAddress);
    fn remove_verifier(ref self: TContractState, verifier: ContractAddress);
    fn is_verifier(self: @TContractState, account: ContractAddress) -> bool;
    fn owner(self: @TContractState) -> ContractAddress;
}

#[starknet::contract]
mod FactRegistry {
    use starknet::{ContractAddress, get_caller_address};
    use zeroable::Zeroable;

    #[storage]
    struct Storage {
        owner: ContractAddress,
        verifiers: LegacyMap<ContractAddress, bool>,
        known: LegacyMap<felt252, bool>,
        security_bits: LegacyMap<felt252, u32>,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        FactRegistered: FactRegistered,
        VerifierAdded: VerifierAdded,
        VerifierRemoved: VerifierRemoved,
    }

    #[derive(Drop, starknet::Event)]
    struct FactRegistered {
        #[key]
        fact: felt252,
        verifier: ContractAddress,
        security_bits: u32,
    }

    #[derive(Drop, starknet::Event)]
    struct VerifierAdded {
        #[key]
        verifier: ContractAddress,
    }

    #[derive(Drop, starknet::Event)]
    struct VerifierRemoved {
        #[key]
        verifier: ContractAddress,
    }

    #[constructor]
    fn constructor(ref self: ContractState, owner: ContractAddress) {
        assert(!owner.is_zero(), 'FactRegistry: zero owner');
        self.owner.write(owner);
    }

    #[external(v0)]
    impl FactRegistryImpl of super::IFactRegistry<ContractState> {
        // Records a fact (0 bits: verified by re-execution); a second registration keeps the
        // higher security bits.
        fn register_fact(ref self: ContractState, fact: felt252, security_bits: u32) {
            let verifier = get_caller_address();
            assert(self.verifiers.read(verifier), 'FactRegistry: not a verifier');
            self.known.write(fact, true);
            if security_bits > self.security_bits.read(fact) {
                self.security_bits.write(fact, security_bits);
            }
            self.emit(FactRegistered { fact, verifier, security_bits });
        }

        // Whether any verifier registered `fact`, with any security bits.
        fn is_valid(self: @ContractState, fact: felt252) -> bool {
            self.known.read(fact)
        }

        // The security bits of the strongest registration of `fact`, 0 when unknown or when
        // only verified by re-execution.
        fn get_verification(self: @ContractState, fact: felt252) -> u32 {
            self.security_bits.read(fact)
        }

        fn add_verifier(ref self: ContractState, verifier: ContractAddress) {
            self.assert_owner();
            assert(!verifier.is_zero(), 'FactRegistry: zero verifier');
            self.verifiers.write(verifier, true);
            self.emit(VerifierAdded { verifier });
        }

        fn remove_verifier(ref self: ContractState, verifier: ContractAddress) {
            self.assert_owner();
            self.verifiers.write(verifier, false);
            self.emit(VerifierRemoved { verifier });
        }

        fn is_verifier(self: @ContractState, account: ContractAddress) -> bool {
            self.verifiers.read(account)
        }

        fn owner(self: @ContractState) -> ContractAddress {
            self.owner.read()
        }
    }

    #[generate_trait]
    impl InternalImpl of InternalTrait {
        fn assert_owner(self: @ContractState) {
            assert(get_caller_address() == self.owner.read(), 'FactRegistry: not the owner');
        }
    }
}
