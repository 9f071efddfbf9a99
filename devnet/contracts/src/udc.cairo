// Universal deployer: deploys any declared class, optionally with a caller-unique salt.
use starknet::{ClassHash, ContractAddress};

#[starknet::interface]
trait IUniversalDeployer<TContractState> {
    fn deployContract(
        ref self: TContractState,
        classHash: ClassHash,
        salt: felt252,
        unique: bool,
        calldata: Span<felt252>
    ) -> ContractAddress;
}

#[starknet::contract]
mod UniversalDeployer {
    use hash::pedersen;
    use starknet::{ClassHash, ContractAddress, deploy_syscall, get_caller_address};
    use traits::Into;

    #[storage]
    struct Storage {}

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        ContractDeployed: ContractDeployed,
    }

    #[derive(Drop, starknet::Event)]
    struct ContractDeployed {
        address: ContractAddress,
        deployer: ContractAddress,
        unique: bool,
        classHash: ClassHash,
        calldata: Span<felt252>,
        salt: felt252,
    }

    #[external(v0)]
    impl UniversalDeployerImpl of super::IUniversalDeployer<ContractState> {
        fn deployContract(
            ref self: ContractState,
            classHash: ClassHash,
            salt: felt252,
            unique: bool,
            calldata: Span<felt252>
        ) -> ContractAddress {
            let deployer = get_caller_address();
            let mut deploy_salt = salt;
            if unique {
                deploy_salt = pedersen(deployer.into(), salt);
            }
            let (address, _) = deploy_syscall(classHash, deploy_salt, calldata, !unique)
                .unwrap_syscall();
            self.emit(ContractDeployed { address, deployer, unique, classHash, calldata, salt });
            address
        }
    }
}
