"""chain: the only Python that speaks JSON-RPC and ABI; its public API.

Every name other packages use is here: ``from chain import TxSender, connect, Role``. The names are loaded on
first use (PEP 562), so that ``import chain`` costs nothing: web3-free as it is, ABI coding still imports
eth-abi, which a command's ``--help`` must not wait for. Each submodule can also be
imported on its own (``chain.clients``, ``chain.logs``, ...); the ``_``-prefixed ones are private: use their
names from here.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:  # the names and their types, for mypy (`X as X`: re-exported)
    from typing import Any  # noqa: I001 - one import statement per module, as in the table below

    from chain._compiler import (
        EVM_VERSION as EVM_VERSION,
        OPTIMIZER_RUNS as OPTIMIZER_RUNS,
        SOLC_VERSION as SOLC_VERSION,
        Artifact as Artifact,
        Build as Build,
        compile_contracts as compile_contracts,
        load_contracts as load_contracts,
        project_root as project_root,
        standard_input as standard_input,
    )
    from chain._nonces import (
        NonceBook as NonceBook,
        NonceManager as NonceManager,
    )
    from chain._tx import (
        Receipt as Receipt,
        SentTx as SentTx,
        TxSender as TxSender,
        sign_dynamic_fee_tx as sign_dynamic_fee_tx,
    )
    from chain.abi import (
        WORD as WORD,
        CallEncoder as CallEncoder,
        ContractCodec as ContractCodec,
        ErrorDecoder as ErrorDecoder,
        EventLayout as EventLayout,
        Reader as Reader,
        abi_type as abi_type,
        checksum as checksum,
        event_layout as event_layout,
        signature as signature,
    )
    from chain.actions import (
        ACCESS_REGISTRY as ACCESS_REGISTRY,
        ACTIONS as ACTIONS,
        BUDGET_MAX_YEN as BUDGET_MAX_YEN,
        BUDGET_OFFICE as BUDGET_OFFICE,
        MILESTONE_ESCROW as MILESTONE_ESCROW,
        ROLE_NAMES as ROLE_NAMES,
        ActionField as ActionField,
        ActionType as ActionType,
        FieldKind as FieldKind,
        SignedContract as SignedContract,
        StructType as StructType,
        ni_uri as ni_uri,
    )
    from chain.budget import (
        AppropriationAct as AppropriationAct,
        Authorization as Authorization,
        CarryOverKind as CarryOverKind,
        ItemKey as ItemKey,
        LineKey as LineKey,
        budget_code as budget_code,
        fiscal_year_containing as fiscal_year_containing,
        fiscal_year_start as fiscal_year_start,
    )
    from chain.besu_network import (
        Members as Members,
        NetworkNode as NetworkNode,
        NetworkPlan as NetworkPlan,
        allowlists_for as allowlists_for,
        load_plan as load_plan,
        plan_network as plan_network,
        system_alloc as system_alloc,
        write_allowlists as write_allowlists,
        write_network as write_network,
    )
    from chain.budget_file import (
        BudgetAct as BudgetAct,
        BudgetFile as BudgetFile,
        ItemSpec as ItemSpec,
        LoadedBudget as LoadedBudget,
        SubItemSpec as SubItemSpec,
        distributed_on_chain as distributed_on_chain,
        enacted_on_chain as enacted_on_chain,
        load_budget_file as load_budget_file,
    )
    from chain.clients import (
        DEFAULT_GRACE_PERIOD as DEFAULT_GRACE_PERIOD,
        DEFAULT_RULING_PERIOD as DEFAULT_RULING_PERIOD,
        GRACE_PERIOD_RANGE as GRACE_PERIOD_RANGE,
        MAX_AMOUNT as MAX_AMOUNT,
        RULING_PERIOD_RANGE as RULING_PERIOD_RANGE,
        Amendment as Amendment,
        AmendmentKind as AmendmentKind,
        BudgetClient as BudgetClient,
        BudgetItem as BudgetItem,
        BudgetLine as BudgetLine,
        BudgetOfficeClient as BudgetOfficeClient,
        CreatedProcurement as CreatedProcurement,
        EscrowClient as EscrowClient,
        EvidenceSubmission as EvidenceSubmission,
        FactoryClient as FactoryClient,
        Milestone as Milestone,
        MilestoneStatus as MilestoneStatus,
        Obligation as Obligation,
        Organization as Organization,
        ProcurementSpec as ProcurementSpec,
        Redirect as Redirect,
        RegistryClient as RegistryClient,
        Terms as Terms,
        TokenClient as TokenClient,
        Totals as Totals,
        budget_clients as budget_clients,
        sorted_panel as sorted_panel,
        system_clients as system_clients,
    )
    from chain.connection import (
        DEFAULT_PORT as DEFAULT_PORT,
        DEFAULT_RPC_URL as DEFAULT_RPC_URL,
        JsonRpc as JsonRpc,
        connect as connect,
    )
    from chain.deployment import (
        DeploymentError as DeploymentError,
        DeploymentResult as DeploymentResult,
        ensure_deployed as ensure_deployed,
        load_manifest as load_manifest,
        manifest_path as manifest_path,
        require_manifest as require_manifest,
        var_dir_from_env as var_dir_from_env,
    )
    from chain.finality import (
        DEFAULT_FINALITY as DEFAULT_FINALITY,
        IMMEDIATE as IMMEDIATE,
        Finality as Finality,
        confirmations_for as confirmations_for,
        is_final as is_final,
    )
    from chain.genesis_events import (
        GENESIS_TX as GENESIS_TX,
        GenesisLog as GenesisLog,
        capture_genesis_logs as capture_genesis_logs,
        genesis_raw_logs as genesis_raw_logs,
        system_contracts as system_contracts,
    )
    from chain.devnet import (
        DEV_AUTHORITY as DEV_AUTHORITY,
        DEV_BUDGET_FILE as DEV_BUDGET_FILE,
        DEV_BUDGET_LINE as DEV_BUDGET_LINE,
        DEV_CAST as DEV_CAST,
        DEV_INDEX as DEV_INDEX,
        DEV_ORGS as DEV_ORGS,
        DEV_PENDING_TRANSFER as DEV_PENDING_TRANSFER,
        CastMember as CastMember,
        DevOrg as DevOrg,
        dev_budget_as as dev_budget_as,
        dev_line as dev_line,
        DEMO_FIRST_DUE_DAYS as DEMO_FIRST_DUE_DAYS,
        dev_relayer_keystore as dev_relayer_keystore,
        due_from_today as due_from_today,
        ensure_demo_procurement as ensure_demo_procurement,
        local_relayer as local_relayer,
        seed_cast as seed_cast,
    )
    from chain.eip712 import (
        ACTION_TYPES as ACTION_TYPES,
        DOMAIN_NAME as DOMAIN_NAME,
        DOMAIN_VERSION as DOMAIN_VERSION,
        Action as Action,
        action_digest as action_digest,
        recover_action_signer as recover_action_signer,
        recover_signer as recover_signer,
        sign_action as sign_action,
        typed_data as typed_data,
        typed_data_digest as typed_data_digest,
    )
    from chain.errors import (
        ChainError as ChainError,
        CompilationError as CompilationError,
        ConfigurationError as ConfigurationError,
        ContractRevert as ContractRevert,
        DecodeError as DecodeError,
        LedgerError as LedgerError,
        ProviderError as ProviderError,
        SignatureError as SignatureError,
        TransactionFailed as TransactionFailed,
    )
    from chain.signing import (
        KeyHolder as KeyHolder,
        Signable as Signable,
        SignedMessage as SignedMessage,
        Signer as Signer,
        checksum_address as checksum_address,
        dev_key as dev_key,
        is_checksum_address as is_checksum_address,
        keccak as keccak,
        personal_digest as personal_digest,
        recover as recover,
        signer_of as signer_of,
    )
    from chain.times import (
        JST as JST,
        iso as iso,
        jst as jst,
    )
    from chain.keys import (
        DEV_CHAIN_IDS as DEV_CHAIN_IDS,
        DEV_MNEMONIC as DEV_MNEMONIC,
        dev_account as dev_account,
        load_keystore as load_keystore,
        write_keystore as write_keystore,
    )
    from chain.logs import (
        CONTRACT_KINDS as CONTRACT_KINDS,
        ChainSource as ChainSource,
        DecodedLog as DecodedLog,
        EventDecoder as EventDecoder,
        Header as Header,
        gc_paused as gc_paused,
        quantity as quantity,
    )
    from chain.node import (
        DEV_CHAIN_ID as DEV_CHAIN_ID,
        AnvilStateGuard as AnvilStateGuard,
        NodeProcess as NodeProcess,
        PortHolder as PortHolder,
        anvil_binary as anvil_binary,
        anvil_command as anvil_command,
        anvil_state_file as anvil_state_file,
        free_port as free_port,
        port_holder as port_holder,
        spawn as spawn,
        start_anvil as start_anvil,
        start_hardhat as start_hardhat,
        wait_for_rpc as wait_for_rpc,
    )
    from chain.procurement_name import (
        OCID_MAX_LENGTH as OCID_MAX_LENGTH,
        ProcurementName as ProcurementName,
        ocid_problem as ocid_problem,
        parse_procurement_name as parse_procurement_name,
    )
    from chain.roles import (
        DEFAULT_ADMIN_ROLE as DEFAULT_ADMIN_ROLE,
        OrgKind as OrgKind,
        Role as Role,
        org_code as org_code,
        org_id as org_id,
    )
    from chain.revert_words import (
        SENTENCES as SENTENCES,
        DueDateOf as DueDateOf,
        OrganizationOf as OrganizationOf,
        explain as explain,
        yen as yen,
    )
    from chain.spec import (
        CLASSIFIABLE_FIELDS as CLASSIFIABLE_FIELDS,
        MAX_SPEC_BYTES as MAX_SPEC_BYTES,
        LoadedSpec as LoadedSpec,
        MilestoneSpec as MilestoneSpec,
        ProcurementFile as ProcurementFile,
        SpecError as SpecError,
        check_against_chain as check_against_chain,
        load_spec as load_spec,
        read_yaml_mapping as read_yaml_mapping,
        validation_problems as validation_problems,
    )
    from chain.qbft import (
        QbftExtraData as QbftExtraData,
        QbftVote as QbftVote,
        decode_extra_data as decode_extra_data,
        encode_extra_data as encode_extra_data,
        genesis_extra_data as genesis_extra_data,
    )
    from chain.system import (
        DEFENSE_MINISTRY as DEFENSE_MINISTRY,
        SystemAddresses as SystemAddresses,
        deploy_system as deploy_system,
        error_decoder as error_decoder,
    )
    from chain.transport import (
        Transport as Transport,
    )

# Where each public name lives: loaded from there on first use.
_HOMES: dict[str, tuple[str, ...]] = {
    "chain._compiler": (
        "EVM_VERSION",
        "OPTIMIZER_RUNS",
        "SOLC_VERSION",
        "Artifact",
        "Build",
        "compile_contracts",
        "load_contracts",
        "project_root",
        "standard_input",
    ),
    "chain._nonces": ("NonceBook", "NonceManager"),
    "chain._tx": ("Receipt", "SentTx", "TxSender", "sign_dynamic_fee_tx"),
    "chain.abi": (
        "WORD",
        "CallEncoder",
        "ContractCodec",
        "ErrorDecoder",
        "EventLayout",
        "Reader",
        "abi_type",
        "checksum",
        "event_layout",
        "signature",
    ),
    "chain.actions": (
        "ACCESS_REGISTRY",
        "ACTIONS",
        "BUDGET_MAX_YEN",
        "BUDGET_OFFICE",
        "MILESTONE_ESCROW",
        "ROLE_NAMES",
        "ActionField",
        "ActionType",
        "FieldKind",
        "SignedContract",
        "StructType",
        "ni_uri",
    ),
    "chain.clients": (
        "DEFAULT_GRACE_PERIOD",
        "DEFAULT_RULING_PERIOD",
        "GRACE_PERIOD_RANGE",
        "MAX_AMOUNT",
        "RULING_PERIOD_RANGE",
        "Amendment",
        "AmendmentKind",
        "BudgetClient",
        "BudgetItem",
        "BudgetLine",
        "BudgetOfficeClient",
        "CreatedProcurement",
        "EscrowClient",
        "EvidenceSubmission",
        "FactoryClient",
        "Milestone",
        "MilestoneStatus",
        "Obligation",
        "Organization",
        "ProcurementSpec",
        "Redirect",
        "RegistryClient",
        "Terms",
        "TokenClient",
        "Totals",
        "budget_clients",
        "sorted_panel",
        "system_clients",
    ),
    "chain.budget": (
        "AppropriationAct",
        "Authorization",
        "CarryOverKind",
        "ItemKey",
        "LineKey",
        "budget_code",
        "fiscal_year_containing",
        "fiscal_year_start",
    ),
    "chain.besu_network": (
        "Members",
        "NetworkNode",
        "NetworkPlan",
        "allowlists_for",
        "load_plan",
        "plan_network",
        "system_alloc",
        "write_allowlists",
        "write_network",
    ),
    "chain.qbft": ("QbftExtraData", "QbftVote", "decode_extra_data", "encode_extra_data", "genesis_extra_data"),
    "chain.budget_file": (
        "BudgetAct",
        "BudgetFile",
        "ItemSpec",
        "LoadedBudget",
        "SubItemSpec",
        "distributed_on_chain",
        "enacted_on_chain",
        "load_budget_file",
    ),
    "chain.connection": ("DEFAULT_PORT", "DEFAULT_RPC_URL", "JsonRpc", "connect"),
    "chain.deployment": (
        "DeploymentError",
        "DeploymentResult",
        "ensure_deployed",
        "load_manifest",
        "manifest_path",
        "require_manifest",
        "var_dir_from_env",
    ),
    "chain.finality": ("DEFAULT_FINALITY", "IMMEDIATE", "Finality", "confirmations_for", "is_final"),
    "chain.genesis_events": (
        "GENESIS_TX",
        "GenesisLog",
        "capture_genesis_logs",
        "genesis_raw_logs",
        "system_contracts",
    ),
    "chain.devnet": (
        "DEV_AUTHORITY",
        "DEV_BUDGET_FILE",
        "DEV_BUDGET_LINE",
        "DEV_CAST",
        "DEV_INDEX",
        "DEV_ORGS",
        "DEV_PENDING_TRANSFER",
        "CastMember",
        "DevOrg",
        "dev_budget_as",
        "dev_line",
        "DEMO_FIRST_DUE_DAYS",
        "dev_relayer_keystore",
        "due_from_today",
        "ensure_demo_procurement",
        "local_relayer",
        "seed_cast",
    ),
    "chain.eip712": (
        "ACTION_TYPES",
        "DOMAIN_NAME",
        "DOMAIN_VERSION",
        "Action",
        "action_digest",
        "recover_action_signer",
        "recover_signer",
        "sign_action",
        "typed_data",
        "typed_data_digest",
    ),
    "chain.errors": (
        "ChainError",
        "CompilationError",
        "ConfigurationError",
        "ContractRevert",
        "DecodeError",
        "LedgerError",
        "ProviderError",
        "SignatureError",
        "TransactionFailed",
    ),
    "chain.signing": (
        "KeyHolder",
        "Signable",
        "SignedMessage",
        "Signer",
        "checksum_address",
        "dev_key",
        "is_checksum_address",
        "keccak",
        "personal_digest",
        "recover",
        "signer_of",
    ),
    "chain.times": ("JST", "iso", "jst"),
    "chain.keys": ("DEV_CHAIN_IDS", "DEV_MNEMONIC", "dev_account", "load_keystore", "write_keystore"),
    "chain.logs": ("CONTRACT_KINDS", "ChainSource", "DecodedLog", "EventDecoder", "Header", "gc_paused", "quantity"),
    "chain.node": (
        "DEV_CHAIN_ID",
        "AnvilStateGuard",
        "NodeProcess",
        "PortHolder",
        "anvil_binary",
        "anvil_command",
        "anvil_state_file",
        "free_port",
        "port_holder",
        "spawn",
        "start_anvil",
        "start_hardhat",
        "wait_for_rpc",
    ),
    "chain.procurement_name": ("OCID_MAX_LENGTH", "ProcurementName", "ocid_problem", "parse_procurement_name"),
    "chain.roles": ("DEFAULT_ADMIN_ROLE", "OrgKind", "Role", "org_code", "org_id"),
    "chain.revert_words": ("SENTENCES", "DueDateOf", "OrganizationOf", "explain", "yen"),
    "chain.spec": (
        "CLASSIFIABLE_FIELDS",
        "MAX_SPEC_BYTES",
        "LoadedSpec",
        "MilestoneSpec",
        "ProcurementFile",
        "SpecError",
        "check_against_chain",
        "load_spec",
        "read_yaml_mapping",
        "validation_problems",
    ),
    "chain.system": ("DEFENSE_MINISTRY", "SystemAddresses", "deploy_system", "error_decoder"),
    "chain.transport": ("Transport",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_MODULE_OF)

if not TYPE_CHECKING:  # mypy sees the imports above, and no catch-all attribute

    def __getattr__(name: str) -> Any:
        """Load a public name from its module on first use (and keep it here)."""
        module = _MODULE_OF.get(name)
        if module is None:
            raise AttributeError(f"module 'chain' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
