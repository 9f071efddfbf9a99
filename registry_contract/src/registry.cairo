// Registry: an ERC20 escrow that pays executors for verified Cairo runs.
//
// Delegators deposit the token; an executor submits a witness (the delegator's signed job header,
// an optional signed assignment, the program output) and is paid the header's reward from the
// delegator's escrow once a fact for (program hash, output) is registered in the FactRegistry with
// at least `min_security_bits` (0 admits facts verified by re-execution, without a proof). A job
// whose output is kept off chain (output volumes) is paid on the output's digest instead,
// `poseidon(output)`, which gives the same fact (`submit_witness_digest`).
//
// Withdrawals take two steps: `request_withdrawal` sets an amount aside, `withdraw` pays it out
// after `withdrawal_delay` seconds. Funds locked by jobs in flight stay payable through that delay:
// an executor that accepts only jobs whose deadline falls before a pending withdrawal unlocks can
// rely on `available_balance`.
//
// Executors stake the token (`stake`, `request_unstake`, `unstake` after the same delay). Anyone
// holding evidence that an executor's streaming session lied slashes that stake with
// `report_cheat` (a signed reply contradicted by a registered fact) or `report_contradiction` (two
// signed replies of one session giving different outputs for the same input): half goes to the
// reporter, the rest into the job's delegator's escrow.
mod sha256;

use starknet::ContractAddress;

// The job header a delegator signs (SNIP-12 revision 1, see p2p/snip12.py).
#[derive(Copy, Drop, Serde)]
struct JobHeader {
    chain_id: felt252,
    registry: ContractAddress,
    delegator: ContractAddress,
    body_id: u256,
    program_hash: felt252,
    max_steps: u128,
    reward: u256,
    deadline: u64,
    nonce: felt252,
}

// The delegator's choice: only `executor` may be paid for `job_hash` until `window_end`.
#[derive(Copy, Drop, Serde)]
struct Assignment {
    job_hash: felt252,
    executor: ContractAddress,
    window_end: u64,
    attempt: u128,
}

// An executor's streaming session for a job: `session_key` signs its replies until `expires_at`.
#[derive(Copy, Drop, Serde)]
struct StreamSession {
    job_hash: felt252,
    executor: ContractAddress,
    session_key: felt252,
    expires_at: u64,
}

// What one streaming reply vouches for: sha256 digests of the request's input and the output.
#[derive(Copy, Drop, Serde)]
struct StreamReply {
    job_hash: felt252,
    time_from_ms: u128,
    time_to_ms: u128,
    input_hash: u256,
    output_hash: u256,
}

// A paid job: who was paid and when (`executor` is zero while the job is unpaid).
#[derive(Copy, Drop, Serde)]
struct JobState {
    executor: ContractAddress,
    paid_at: u64,
}

#[starknet::interface]
trait IRegistry<TContractState> {
    fn deposit(ref self: TContractState, amount: u256);
    fn request_withdrawal(ref self: TContractState, amount: u256);
    fn withdraw(ref self: TContractState);
    fn submit_witness(
        ref self: TContractState,
        header: JobHeader,
        signature: Array<felt252>,
        assignment: Assignment,
        assignment_signature: Array<felt252>,
        output: Array<felt252>
    );
    fn submit_witness_digest(
        ref self: TContractState,
        header: JobHeader,
        signature: Array<felt252>,
        assignment: Assignment,
        assignment_signature: Array<felt252>,
        output_digest: felt252
    );
    fn stake(ref self: TContractState, amount: u256);
    fn request_unstake(ref self: TContractState, amount: u256);
    fn unstake(ref self: TContractState);
    fn report_cheat(
        ref self: TContractState,
        header: JobHeader,
        header_signature: Array<felt252>,
        session: StreamSession,
        session_signature: Array<felt252>,
        reply: StreamReply,
        reply_signature: Array<felt252>,
        fact_output: Array<felt252>
    );
    fn report_contradiction(
        ref self: TContractState,
        header: JobHeader,
        header_signature: Array<felt252>,
        session: StreamSession,
        session_signature: Array<felt252>,
        reply: StreamReply,
        reply_signature: Array<felt252>,
        other_reply: StreamReply,
        other_reply_signature: Array<felt252>
    );
    fn balance_of(self: @TContractState, account: ContractAddress) -> u256;
    fn available_balance(self: @TContractState, account: ContractAddress) -> u256;
    fn pending_withdrawal(self: @TContractState, account: ContractAddress) -> (u256, u64);
    fn stake_of(self: @TContractState, executor: ContractAddress) -> u256;
    fn pending_unstake(self: @TContractState, executor: ContractAddress) -> (u256, u64);
    fn job_state(self: @TContractState, job_hash: felt252) -> JobState;
    fn job_hash(self: @TContractState, header: JobHeader) -> felt252;
    fn assignment_hash(
        self: @TContractState, assignment: Assignment, chain_id: felt252, delegator: ContractAddress
    ) -> felt252;
    fn felts_digest(self: @TContractState, felts: Array<felt252>) -> u256;
    fn token(self: @TContractState) -> ContractAddress;
    fn fact_registry(self: @TContractState) -> ContractAddress;
    fn min_security_bits(self: @TContractState) -> u32;
    fn withdrawal_delay(self: @TContractState) -> u64;
}

#[starknet::interface]
trait IERC20<TContractState> {
    fn transfer(ref self: TContractState, recipient: ContractAddress, amount: u256) -> bool;
    fn transfer_from(
        ref self: TContractState, sender: ContractAddress, recipient: ContractAddress, amount: u256
    ) -> bool;
}

#[starknet::interface]
trait ISRC6<TContractState> {
    fn is_valid_signature(self: @TContractState, hash: felt252, signature: Array<felt252>) -> felt252;
}

#[starknet::interface]
trait IFactRegistry<TContractState> {
    fn is_valid(self: @TContractState, fact: felt252) -> bool;
    fn get_verification(self: @TContractState, fact: felt252) -> u32;
}

#[starknet::contract]
mod Registry {
    use array::{ArrayTrait, SpanTrait};
    use box::BoxTrait;
    use ecdsa::check_ecdsa_signature;
    use poseidon::poseidon_hash_span;
    use starknet::{
        ContractAddress, contract_address_to_felt252, get_block_timestamp, get_caller_address,
        get_contract_address, get_tx_info
    };
    use option::OptionTrait;
    use traits::{Into, TryInto};
    use zeroable::Zeroable;
    use super::{
        Assignment, IERC20Dispatcher, IERC20DispatcherTrait, IFactRegistryDispatcher,
        IFactRegistryDispatcherTrait, ISRC6Dispatcher, ISRC6DispatcherTrait, JobHeader, JobState,
        StreamReply, StreamSession
    };
    use super::sha256;

    // SNIP-12 revision 1 constants (starknet_keccak of the encoded types, see p2p/snip12.py).
    const STARKNET_MESSAGE: felt252 = 'StarkNet Message';
    const DOMAIN_TYPE_HASH: felt252 =
        0x1ff2f602e42168014d405a94f75e8a93d640751d71d16311266e140d8b0a210;
    const JOB_HEADER_TYPE_HASH: felt252 =
        0x1c87521e4020228ef35390c0e490eea25c35bd0ff656785d684410fe32ddb8a;
    const ASSIGNMENT_TYPE_HASH: felt252 =
        0xe1a6e4e21a7360314d806ee448d02020b8f46cbe86af412bce357653d01f45;
    const STREAM_SESSION_TYPE_HASH: felt252 =
        0xaf5ab912d66a98884b5d863466a734ac4b6b87ef7ec4130d5d8f8d2d9496bb;
    const STREAM_REPLY_TYPE_HASH: felt252 =
        0x2c18ee42cc78eacb4767198e0415beda52ca5e8fc3fe4fdc6ec37eb53bf92f4;
    const U256_TYPE_HASH: felt252 =
        0x3b143be38b811560b45593fb2a071ec4ddd0a020e10782be62ffe6f39e0e82c;
    const DOMAIN_NAME: felt252 = 'Zetina';
    const DOMAIN_VERSION: felt252 = 1;
    const DOMAIN_REVISION: felt252 = 1;
    const VALID: felt252 = 'VALID';

    #[storage]
    struct Storage {
        token: ContractAddress,
        fact_registry: ContractAddress,
        min_security_bits: u32,
        withdrawal_delay: u64,
        balances: LegacyMap<ContractAddress, u256>,
        pending_amounts: LegacyMap<ContractAddress, u256>,
        pending_unlocks: LegacyMap<ContractAddress, u64>,
        paid_executors: LegacyMap<felt252, ContractAddress>,
        paid_times: LegacyMap<felt252, u64>,
        stakes: LegacyMap<ContractAddress, u256>,
        unstake_amounts: LegacyMap<ContractAddress, u256>,
        unstake_unlocks: LegacyMap<ContractAddress, u64>,
        reported_replies: LegacyMap<felt252, bool>,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        Deposited: Deposited,
        WithdrawalRequested: WithdrawalRequested,
        Withdrawn: Withdrawn,
        JobCompleted: JobCompleted,
        Staked: Staked,
        UnstakeRequested: UnstakeRequested,
        Unstaked: Unstaked,
        CheatReported: CheatReported,
    }

    #[derive(Drop, starknet::Event)]
    struct Deposited {
        #[key]
        account: ContractAddress,
        amount: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct WithdrawalRequested {
        #[key]
        account: ContractAddress,
        amount: u256,
        unlock_at: u64,
    }

    #[derive(Drop, starknet::Event)]
    struct Withdrawn {
        #[key]
        account: ContractAddress,
        amount: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct JobCompleted {
        #[key]
        job_hash: felt252,
        #[key]
        delegator: ContractAddress,
        #[key]
        executor: ContractAddress,
        reward: u256,
        output: Span<felt252>,
        output_digest: felt252,
    }

    #[derive(Drop, starknet::Event)]
    struct Staked {
        #[key]
        executor: ContractAddress,
        amount: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct UnstakeRequested {
        #[key]
        executor: ContractAddress,
        amount: u256,
        unlock_at: u64,
    }

    #[derive(Drop, starknet::Event)]
    struct Unstaked {
        #[key]
        executor: ContractAddress,
        amount: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct CheatReported {
        #[key]
        job_hash: felt252,
        #[key]
        executor: ContractAddress,
        #[key]
        reporter: ContractAddress,
        slashed: u256,
    }

    #[constructor]
    fn constructor(
        ref self: ContractState,
        token: ContractAddress,
        fact_registry: ContractAddress,
        min_security_bits: u32,
        withdrawal_delay: u64
    ) {
        assert(!token.is_zero(), 'Registry: zero token');
        assert(!fact_registry.is_zero(), 'Registry: zero fact registry');
        self.token.write(token);
        self.fact_registry.write(fact_registry);
        self.min_security_bits.write(min_security_bits);
        self.withdrawal_delay.write(withdrawal_delay);
    }

    #[external(v0)]
    impl RegistryImpl of super::IRegistry<ContractState> {
        // Moves `amount` of the token from the caller (who approved it) into its escrow.
        fn deposit(ref self: ContractState, amount: u256) {
            assert(amount != 0, 'Registry: zero amount');
            let account = get_caller_address();
            let token = IERC20Dispatcher { contract_address: self.token.read() };
            let moved = token.transfer_from(account, get_contract_address(), amount);
            assert(moved, 'Registry: transfer failed');
            self.balances.write(account, self.balances.read(account) + amount);
            self.emit(Deposited { account, amount });
        }

        // Sets `amount` more aside for withdrawal; the whole pending amount unlocks after the delay.
        fn request_withdrawal(ref self: ContractState, amount: u256) {
            assert(amount != 0, 'Registry: zero amount');
            let account = get_caller_address();
            assert(amount <= self.available_of(account), 'Registry: amount over available');
            let pending = self.pending_amounts.read(account) + amount;
            let unlock_at = get_block_timestamp() + self.withdrawal_delay.read();
            self.pending_amounts.write(account, pending);
            self.pending_unlocks.write(account, unlock_at);
            self.emit(WithdrawalRequested { account, amount: pending, unlock_at });
        }

        // Pays out the pending amount once unlocked (less what jobs were paid meanwhile).
        fn withdraw(ref self: ContractState) {
            let account = get_caller_address();
            let pending = self.pending_amounts.read(account);
            assert(pending != 0, 'Registry: nothing pending');
            assert(
                get_block_timestamp() >= self.pending_unlocks.read(account),
                'Registry: withdrawal locked'
            );
            let balance = self.balances.read(account);
            let amount = if pending < balance {
                pending
            } else {
                balance
            };
            self.balances.write(account, balance - amount);
            self.pending_amounts.write(account, 0);
            self.pending_unlocks.write(account, 0);
            let token = IERC20Dispatcher { contract_address: self.token.read() };
            assert(token.transfer(account, amount), 'Registry: transfer failed');
            self.emit(Withdrawn { account, amount });
        }

        // Pays the caller the header's reward for a verified run of the job.
        // Checks in order: chain and registry; the delegator's signature; not paid yet; deadline;
        // the assignment's window (an empty assignment signature means no assignment); a fact for
        // (header.program_hash, output) known, then with at least min_security_bits; the escrow. The fact is
        // computed from the header's program hash, so a run of another program cannot match it.
        fn submit_witness(
            ref self: ContractState,
            header: JobHeader,
            signature: Array<felt252>,
            assignment: Assignment,
            assignment_signature: Array<felt252>,
            output: Array<felt252>
        ) {
            let output = output.span();
            self
                .pay_job(
                    header, signature, assignment, assignment_signature, output,
                    poseidon_hash_span(output)
                );
        }

        // `submit_witness` for a job whose output stays off chain: the same checks, the fact
        // computed from `output_digest = poseidon(output)`; JobCompleted carries an empty output.
        fn submit_witness_digest(
            ref self: ContractState,
            header: JobHeader,
            signature: Array<felt252>,
            assignment: Assignment,
            assignment_signature: Array<felt252>,
            output_digest: felt252
        ) {
            self
                .pay_job(
                    header,
                    signature,
                    assignment,
                    assignment_signature,
                    ArrayTrait::new().span(),
                    output_digest
                );
        }

        // Moves `amount` of the token from the caller (who approved it) into its stake.
        fn stake(ref self: ContractState, amount: u256) {
            assert(amount != 0, 'Registry: zero amount');
            let executor = get_caller_address();
            let token = IERC20Dispatcher { contract_address: self.token.read() };
            let moved = token.transfer_from(executor, get_contract_address(), amount);
            assert(moved, 'Registry: transfer failed');
            self.stakes.write(executor, self.stakes.read(executor) + amount);
            self.emit(Staked { executor, amount });
        }

        // Sets `amount` more of the stake aside; the whole pending amount unlocks after the
        // withdrawal delay, and stays slashable until it leaves.
        fn request_unstake(ref self: ContractState, amount: u256) {
            assert(amount != 0, 'Registry: zero amount');
            let executor = get_caller_address();
            let pending = self.unstake_amounts.read(executor) + amount;
            assert(pending <= self.stakes.read(executor), 'Registry: amount over stake');
            let unlock_at = get_block_timestamp() + self.withdrawal_delay.read();
            self.unstake_amounts.write(executor, pending);
            self.unstake_unlocks.write(executor, unlock_at);
            self.emit(UnstakeRequested { executor, amount: pending, unlock_at });
        }

        // Pays out the pending unstake once unlocked (the whole of it: a slash clears it).
        fn unstake(ref self: ContractState) {
            let executor = get_caller_address();
            let amount = self.unstake_amounts.read(executor);
            assert(amount != 0, 'Registry: no unstake pending');
            assert(
                get_block_timestamp() >= self.unstake_unlocks.read(executor),
                'Registry: unstake locked'
            );
            self.stakes.write(executor, self.stakes.read(executor) - amount);
            self.unstake_amounts.write(executor, 0);
            self.unstake_unlocks.write(executor, 0);
            let token = IERC20Dispatcher { contract_address: self.token.read() };
            assert(token.transfer(executor, amount), 'Registry: transfer failed');
            self.emit(Unstaked { executor, amount });
        }

        // Slashes the session's executor for a signed reply whose output differs from the truth:
        // `fact_output = [n, input (n felts), output...]` is a registered fact of the job's
        // program (a streaming run of this very input), whose input digest is the reply's and
        // whose output digest is not.
        fn report_cheat(
            ref self: ContractState,
            header: JobHeader,
            header_signature: Array<felt252>,
            session: StreamSession,
            session_signature: Array<felt252>,
            reply: StreamReply,
            reply_signature: Array<felt252>,
            fact_output: Array<felt252>
        ) {
            let (job_hash, session_digest) = check_session(
                header, header_signature, session, session_signature
            );
            let reply_key = self.unreported_reply(header, session, session_digest, reply, reply_signature);
            let fact_output = fact_output.span();
            assert(fact_output.len() != 0, 'Registry: malformed output');
            let inputs: u32 = (*fact_output[0]).try_into().expect('Registry: malformed output');
            assert(inputs < fact_output.len(), 'Registry: malformed output');
            self.check_fact(header.program_hash, fact_output);
            let input = fact_output.slice(1, inputs);
            let output = fact_output.slice(inputs + 1, fact_output.len() - inputs - 1);
            assert(sha256::felts_digest(input) == reply.input_hash, 'Registry: input digest differs');
            assert(sha256::felts_digest(output) != reply.output_hash, 'Registry: outputs equal');
            self.reported_replies.write(reply_key, true);
            self.slash(job_hash, session.executor, header.delegator);
        }

        // Slashes the session's executor for two signed replies of the session that give
        // different outputs for the same input.
        fn report_contradiction(
            ref self: ContractState,
            header: JobHeader,
            header_signature: Array<felt252>,
            session: StreamSession,
            session_signature: Array<felt252>,
            reply: StreamReply,
            reply_signature: Array<felt252>,
            other_reply: StreamReply,
            other_reply_signature: Array<felt252>
        ) {
            let (job_hash, session_digest) = check_session(
                header, header_signature, session, session_signature
            );
            let reply_key = self.unreported_reply(header, session, session_digest, reply, reply_signature);
            let other_key = self
                .unreported_reply(header, session, session_digest, other_reply, other_reply_signature);
            assert(reply.input_hash == other_reply.input_hash, 'Registry: different inputs');
            assert(reply.output_hash != other_reply.output_hash, 'Registry: outputs equal');
            self.reported_replies.write(reply_key, true);
            self.reported_replies.write(other_key, true);
            self.slash(job_hash, session.executor, header.delegator);
        }

        fn balance_of(self: @ContractState, account: ContractAddress) -> u256 {
            self.balances.read(account)
        }

        // The escrow less the amount pending withdrawal: what new jobs can rely on.
        fn available_balance(self: @ContractState, account: ContractAddress) -> u256 {
            self.available_of(account)
        }

        // (amount pending withdrawal, time it unlocks); (0, 0) when none.
        fn pending_withdrawal(self: @ContractState, account: ContractAddress) -> (u256, u64) {
            (self.pending_amounts.read(account), self.pending_unlocks.read(account))
        }

        // The executor's whole stake, pending unstake included.
        fn stake_of(self: @ContractState, executor: ContractAddress) -> u256 {
            self.stakes.read(executor)
        }

        // (stake amount pending unstake, time it unlocks); (0, 0) when none.
        fn pending_unstake(self: @ContractState, executor: ContractAddress) -> (u256, u64) {
            (self.unstake_amounts.read(executor), self.unstake_unlocks.read(executor))
        }

        fn job_state(self: @ContractState, job_hash: felt252) -> JobState {
            JobState {
                executor: self.paid_executors.read(job_hash), paid_at: self.paid_times.read(job_hash)
            }
        }

        // The SNIP-12 message hash of a header, signed by its delegator: the job's identity.
        fn job_hash(self: @ContractState, header: JobHeader) -> felt252 {
            header_hash(header)
        }

        // The SNIP-12 message hash of an assignment, signed by the job's delegator.
        fn assignment_hash(
            self: @ContractState,
            assignment: Assignment,
            chain_id: felt252,
            delegator: ContractAddress
        ) -> felt252 {
            assignment_message_hash(assignment, chain_id, delegator)
        }

        // sha256 of the felts as 32-byte big-endian words (`p2p.messages.felts_digest`).
        fn felts_digest(self: @ContractState, felts: Array<felt252>) -> u256 {
            sha256::felts_digest(felts.span())
        }

        fn token(self: @ContractState) -> ContractAddress {
            self.token.read()
        }

        fn fact_registry(self: @ContractState) -> ContractAddress {
            self.fact_registry.read()
        }

        fn min_security_bits(self: @ContractState) -> u32 {
            self.min_security_bits.read()
        }

        fn withdrawal_delay(self: @ContractState) -> u64 {
            self.withdrawal_delay.read()
        }
    }

    #[generate_trait]
    impl InternalImpl of InternalTrait {
        fn available_of(self: @ContractState, account: ContractAddress) -> u256 {
            let balance = self.balances.read(account);
            let pending = self.pending_amounts.read(account);
            if pending < balance {
                balance - pending
            } else {
                0
            }
        }

        // The checks and the payment of `submit_witness`, for an output given by its digest
        // (`output` is what JobCompleted shows: the output itself, or empty).
        fn pay_job(
            ref self: ContractState,
            header: JobHeader,
            signature: Array<felt252>,
            assignment: Assignment,
            assignment_signature: Array<felt252>,
            output: Span<felt252>,
            output_digest: felt252
        ) {
            let tx_info = get_tx_info().unbox();
            assert(header.chain_id == tx_info.chain_id, 'Registry: wrong chain');
            assert(header.registry == get_contract_address(), 'Registry: wrong registry');
            let job_hash = header_hash(header);
            assert(
                is_signed(header.delegator, job_hash, signature), 'Registry: bad signature'
            );
            assert(self.paid_executors.read(job_hash).is_zero(), 'Registry: already paid');
            let now = get_block_timestamp();
            assert(now <= header.deadline, 'Registry: deadline passed');
            let executor = get_caller_address();
            check_assignment(header, job_hash, assignment, assignment_signature, executor, now);
            self.check_fact_digest(header.program_hash, output_digest);
            let balance = self.balances.read(header.delegator);
            assert(balance >= header.reward, 'Registry: escrow too low');

            self.balances.write(header.delegator, balance - header.reward);
            self.paid_executors.write(job_hash, executor);
            self.paid_times.write(job_hash, now);
            let token = IERC20Dispatcher { contract_address: self.token.read() };
            assert(token.transfer(executor, header.reward), 'Registry: transfer failed');
            self
                .emit(
                    JobCompleted {
                        job_hash,
                        delegator: header.delegator,
                        executor,
                        reward: header.reward,
                        output,
                        output_digest
                    }
                );
        }

        fn check_fact(self: @ContractState, program_hash: felt252, output: Span<felt252>) {
            self.check_fact_digest(program_hash, poseidon_hash_span(output));
        }

        // A fact for (program hash, the output whose poseidon digest is `output_digest`) is
        // registered with at least min_security_bits.
        fn check_fact_digest(self: @ContractState, program_hash: felt252, output_digest: felt252) {
            let fact = poseidon_hash_span(array![program_hash, output_digest].span());
            let registry = IFactRegistryDispatcher { contract_address: self.fact_registry.read() };
            assert(registry.is_valid(fact), 'Registry: unknown fact');
            let bits = registry.get_verification(fact);
            assert(bits >= self.min_security_bits.read(), 'Registry: weak fact');
        }

        // Checks that the session's key signed `reply` for the session's job and that no report
        // used this (session, reply) yet; returns the key that marks it reported.
        fn unreported_reply(
            self: @ContractState,
            header: JobHeader,
            session: StreamSession,
            session_digest: felt252,
            reply: StreamReply,
            reply_signature: Array<felt252>
        ) -> felt252 {
            assert(reply.job_hash == session.job_hash, 'Registry: wrong reply job');
            let digest = reply_message_hash(reply, header.chain_id, session.executor);
            assert(reply_signature.len() == 2, 'Registry: bad reply sig');
            assert(
                check_ecdsa_signature(
                    digest, session.session_key, *reply_signature[0], *reply_signature[1]
                ),
                'Registry: bad reply sig'
            );
            let key = poseidon_hash_span(array![session_digest, digest].span());
            assert(!self.reported_replies.read(key), 'Registry: already reported');
            key
        }

        // Takes the executor's whole stake: half to the caller, the rest to the delegator's escrow.
        fn slash(
            ref self: ContractState,
            job_hash: felt252,
            executor: ContractAddress,
            delegator: ContractAddress
        ) {
            let slashed = self.stakes.read(executor);
            let reporter = get_caller_address();
            let reporter_share = slashed / 2;
            self.stakes.write(executor, 0);
            self.unstake_amounts.write(executor, 0);
            self.unstake_unlocks.write(executor, 0);
            self.balances.write(delegator, self.balances.read(delegator) + slashed - reporter_share);
            if reporter_share != 0 {
                let token = IERC20Dispatcher { contract_address: self.token.read() };
                assert(token.transfer(reporter, reporter_share), 'Registry: transfer failed');
            }
            self.emit(CheatReported { job_hash, executor, reporter, slashed });
        }
    }

    // Checks that a session names this chain's, this registry's job of a header its delegator
    // signed, and that its executor signed the session; returns (job hash, session hash).
    fn check_session(
        header: JobHeader,
        header_signature: Array<felt252>,
        session: StreamSession,
        session_signature: Array<felt252>
    ) -> (felt252, felt252) {
        let tx_info = get_tx_info().unbox();
        assert(header.chain_id == tx_info.chain_id, 'Registry: wrong chain');
        assert(header.registry == get_contract_address(), 'Registry: wrong registry');
        let job_hash = header_hash(header);
        assert(session.job_hash == job_hash, 'Registry: wrong session job');
        assert(is_signed(header.delegator, job_hash, header_signature), 'Registry: bad signature');
        let digest = session_message_hash(session, header.chain_id);
        assert(
            is_signed(session.executor, digest, session_signature), 'Registry: bad session sig'
        );
        (job_hash, digest)
    }

    fn check_assignment(
        header: JobHeader,
        job_hash: felt252,
        assignment: Assignment,
        assignment_signature: Array<felt252>,
        executor: ContractAddress,
        now: u64
    ) {
        if assignment_signature.len() == 0 {
            return;
        }
        assert(assignment.job_hash == job_hash, 'Registry: wrong assignment job');
        let digest = assignment_message_hash(assignment, header.chain_id, header.delegator);
        assert(
            is_signed(header.delegator, digest, assignment_signature),
            'Registry: bad assignment sig'
        );
        if now <= assignment.window_end {
            assert(executor == assignment.executor, 'Registry: assigned to other');
        }
    }

    fn is_signed(signer: ContractAddress, digest: felt252, signature: Array<felt252>) -> bool {
        ISRC6Dispatcher { contract_address: signer }.is_valid_signature(digest, signature) == VALID
    }

    fn header_hash(header: JobHeader) -> felt252 {
        let struct_hash = poseidon_hash_span(
            array![
                JOB_HEADER_TYPE_HASH,
                header.chain_id,
                contract_address_to_felt252(header.registry),
                contract_address_to_felt252(header.delegator),
                u256_hash(header.body_id),
                header.program_hash,
                header.max_steps.into(),
                u256_hash(header.reward),
                header.deadline.into(),
                header.nonce
            ]
                .span()
        );
        message_hash(header.chain_id, header.delegator, struct_hash)
    }

    fn assignment_message_hash(
        assignment: Assignment, chain_id: felt252, delegator: ContractAddress
    ) -> felt252 {
        let struct_hash = poseidon_hash_span(
            array![
                ASSIGNMENT_TYPE_HASH,
                assignment.job_hash,
                contract_address_to_felt252(assignment.executor),
                assignment.window_end.into(),
                assignment.attempt.into()
            ]
                .span()
        );
        message_hash(chain_id, delegator, struct_hash)
    }

    fn session_message_hash(session: StreamSession, chain_id: felt252) -> felt252 {
        let struct_hash = poseidon_hash_span(
            array![
                STREAM_SESSION_TYPE_HASH,
                session.job_hash,
                contract_address_to_felt252(session.executor),
                session.session_key,
                session.expires_at.into()
            ]
                .span()
        );
        message_hash(chain_id, session.executor, struct_hash)
    }

    // Signed by the session key, with the session's executor as the SNIP-12 signer.
    fn reply_message_hash(
        reply: StreamReply, chain_id: felt252, executor: ContractAddress
    ) -> felt252 {
        let struct_hash = poseidon_hash_span(
            array![
                STREAM_REPLY_TYPE_HASH,
                reply.job_hash,
                reply.time_from_ms.into(),
                reply.time_to_ms.into(),
                u256_hash(reply.input_hash),
                u256_hash(reply.output_hash)
            ]
                .span()
        );
        message_hash(chain_id, executor, struct_hash)
    }

    fn message_hash(chain_id: felt252, signer: ContractAddress, struct_hash: felt252) -> felt252 {
        let domain = poseidon_hash_span(
            array![DOMAIN_TYPE_HASH, DOMAIN_NAME, DOMAIN_VERSION, chain_id, DOMAIN_REVISION].span()
        );
        poseidon_hash_span(
            array![STARKNET_MESSAGE, domain, contract_address_to_felt252(signer), struct_hash].span()
        )
    }

    fn u256_hash(value: u256) -> felt252 {
        poseidon_hash_span(array![U256_TYPE_HASH, value.low.into(), value.high.into()].span())
    }
}
