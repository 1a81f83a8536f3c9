// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IBudgetLedger
/// @notice The national budget on the ledger (Public Finance Act): fiscal years, the appropriation of each item,
/// its distribution among sub-items, obligations of procurements against sub-item lines, the yen those
/// obligations back, disbursements, transfers, year end and cross-ministry access. No yen exists that an
/// enacted, obligated line does not back: the token mints only when an escrow draws on its obligation and burns
/// what an escrow returns.
///
/// A line is fiscal year x ministry x organization (組織) x item (項) x sub-item (目); the year-less part of its
/// key is a series, numbered from 1 in order of first use (SeriesRegistered carries its codes), so a line is
/// also (series, fiscal year). Amounts are integer yen.
///
/// Who acts:
/// - the finance authority (FINANCE_AUTHORITY_ROLE, in an organization of kind FinanceAuthority: the Ministry of
///   Finance's budget bureau) enacts appropriations and multi-year obligation authorities, approves or refuses
///   transfers, approves carry-overs and closes fiscal years. No spending ministry holds this role.
/// - a ministry's finance officer (TREASURY_ROLE) distributes its items among sub-items, requests and withdraws
///   transfers, and grants other ministries access to its lines.
/// - a procurement officer obligates a line by creating a procurement (through the factory), and may raise an
///   escrow's obligation when the escrow needs more.
/// - an escrow draws on its obligation (yen minted into it), records each payment as a disbursement of its line,
///   and returns yen it no longer needs (burned, de-obligated).
/// - anyone settles a line of a closed fiscal year and obligates a multi-year procurement's scheduled part once
///   its year has come.
///
/// Every act of a ministry or of the finance authority also has a signed `...BySig` form, in the budget office
/// (IBudgetOffice), which also runs the workflow of transfer requests; the office relays a signed act here with
/// its signer appended to the call data (as an ERC-2771 trusted forwarder does), and this ledger checks the
/// signer's role exactly as a direct caller's.
///
/// Invariants, for every line: obligated + carryOver <= allotted; disbursed <= obligated; for every item: its
/// sub-items' allotments sum to `distributed` <= appropriation; for every escrow: drawn <= obligated; the token's
/// supply equals the escrows' balances plus the yen paid out; a line lapses only its unobligated balance beyond
/// approved carry-overs; its unpaid obligations move to the next fiscal year's line.
interface IBudgetLedger {
    /// @notice An appropriation act: the initial budget of an item (once), or a supplementary budget adding to
    /// or cutting it.
    enum AppropriationAct {
        Initial,
        Supplementary
    }

    /// @notice The legal ground of a carry-over: pre-authorized by the budget (明許繰越, Art. 14-3), or for an
    /// accident (事故繰越, Art. 42 proviso).
    enum CarryOverKind {
        Authorized,
        Accident
    }

    /// @notice One item (項) of one fiscal year. Codes are left-aligned ASCII in bytes32, like organization ids;
    /// `ministry` is the spending ministry's registry organization id.
    struct ItemKey {
        uint16 fiscalYear;
        bytes32 ministry;
        bytes32 organization;
        bytes32 item;
    }

    /// @notice One sub-item line (目) of one fiscal year.
    struct LineKey {
        uint16 fiscalYear;
        bytes32 ministry;
        bytes32 organization;
        bytes32 item;
        bytes32 subItem;
    }

    /// @notice An item's appropriation as stored.
    /// @param initialEnacted Whether the initial budget was enacted.
    /// @param authorizations Bits of the Diet's prior authorizations (TRANSFER_BETWEEN_ITEMS, CARRY_OVER).
    /// @param enacted Initial budget plus supplementary budgets (net of cuts).
    /// @param appropriation What the item may spend: enacted, plus transfers between items in, minus out, plus
    /// what the year before carried into its lines.
    /// @param distributed The sum of its sub-item lines' allotments (never above `appropriation`).
    struct Item {
        bool initialEnacted;
        uint8 authorizations;
        uint256 enacted;
        uint256 appropriation;
        uint256 distributed;
    }

    /// @notice A sub-item line as stored.
    /// @param allotted What the line may obligate: its distribution, plus transfers in, minus out, plus what the
    /// year before carried into it (carry-overs and unpaid obligations).
    /// @param obligated Obligations net of de-obligations, paid ones included.
    /// @param disbursed Payments made against the line's obligations.
    /// @param carryOver Unobligated yen approved to carry into the next fiscal year (reserved: not available).
    /// @param available allotted - obligated - carryOver.
    struct Line {
        uint32 series;
        bool exists;
        bool settled;
        uint256 allotted;
        uint256 obligated;
        uint256 disbursed;
        uint256 carryOver;
        uint256 available;
    }

    /// @notice A transfer between two lines of one ministry and fiscal year: between sub-items of one item
    /// (流用) or between items (移用, only where both items carry the Diet's prior authorization).
    struct TransferRequest {
        LineKey from;
        LineKey to;
        uint256 amount;
        bytes32 rationaleHash;
    }

    /// @notice A procurement's obligation, kept per escrow.
    /// @param series The series of the line it obligates.
    /// @param fiscalYear The year of the line that carries it now (unpaid obligations move on at year end).
    /// @param obligated Obligated, net of de-obligations, paid yen included.
    /// @param drawn Minted into the escrow, net of what it returned (paid yen included); never above `obligated`.
    /// @param planned Parts scheduled for later fiscal years under a multi-year authority, not yet obligated (per
    /// year in the budget office).
    struct Obligation {
        uint32 series;
        uint16 fiscalYear;
        uint256 obligated;
        uint256 drawn;
        uint256 planned;
    }

    /// @notice `account` lacks `role` in `organization` (or `organization` is not the one it must act for).
    error BudgetUnauthorized(address account, bytes32 role, bytes32 organization);
    /// @notice Only the factory (obligations at creation) or a procurement's escrow may call this.
    error BudgetUnauthorizedCaller(address caller);
    /// @notice The ministry is not a registered ministry.
    error BudgetUnknownMinistry(bytes32 ministry);
    /// @notice A code of the key is zero, or its fiscal year is zero.
    error BudgetInvalidKey(uint16 fiscalYear, bytes32 organization, bytes32 item, bytes32 subItem);
    /// @notice An amount is zero, negative where it must add, or would leave a running total outside 0..`max`.
    error BudgetInvalidAmount(int256 amount, uint256 max);
    /// @notice The legal instrument's or reason's hash is zero.
    error BudgetMissingHash();
    /// @notice The initial budget of the item was already enacted (Initial), or not yet (Supplementary).
    error BudgetInitialBudget(ItemKey key, bool initialEnacted);
    /// @notice A cut would take the item's appropriation below what is distributed, or a distribution would
    /// exceed the undistributed rest of the item.
    error BudgetExceedsItem(ItemKey key, uint256 undistributed, uint256 amount);
    /// @notice The line has no such balance: `available` yen are free (allotted - obligated - carry-overs), the
    /// act needs `amount`. This is how an obligation that does not fit its line is refused.
    error BudgetExceedsAvailable(LineKey line, uint256 available, uint256 amount);
    /// @notice No such line (nothing was distributed to it).
    error BudgetUnknownLine(LineKey line);
    /// @notice The fiscal year is closed: nothing can be enacted, distributed, transferred or carried in it.
    error BudgetYearClosed(uint16 fiscalYear);
    /// @notice The fiscal year has not ended yet; it ends at `endsAt` (1 April, 00:00 JST, of the next year).
    error BudgetYearNotOver(uint16 fiscalYear, uint256 endsAt);
    /// @notice The fiscal year ended at `endedAt`: a transfer between its lines can no longer be requested or
    /// approved.
    error BudgetYearOver(uint16 fiscalYear, uint256 endedAt);
    /// @notice The fiscal year is not closed yet: its lines cannot be settled.
    error BudgetYearNotClosed(uint16 fiscalYear);
    /// @notice Obligations are made against the current fiscal year's lines only.
    error BudgetNotCurrentYear(uint16 fiscalYear, uint16 current);
    /// @notice The line was settled at year end.
    error BudgetLineSettled(LineKey line);
    /// @notice A transfer names lines of two fiscal years or ministries, or the same line twice, or no amount.
    error BudgetInvalidTransfer(LineKey from, LineKey to, uint256 amount);
    /// @notice A transfer between items needs the Diet's prior authorization on both items.
    error BudgetTransferNotAuthorized(ItemKey from, ItemKey to);
    /// @notice A carry-over of this kind is not authorized for the line's item (明許繰越 needs the budget's
    /// prior authorization).
    error BudgetCarryOverNotAuthorized(LineKey line, CarryOverKind kind);
    /// @notice A multi-year procurement obligates its own ministry's lines only.
    error BudgetCrossMinistryMultiYear(bytes32 buyer, bytes32 lineMinistry);
    /// @notice The escrow has no obligation on this ledger.
    error BudgetUnknownEscrow(address escrow);
    /// @notice The escrow already has an obligation.
    error BudgetAlreadyObligated(address escrow);
    /// @notice The escrow may draw only `undrawn` more yen on its obligation; it asked for `amount`.
    error BudgetDrawExceedsObligation(address escrow, uint256 undrawn, uint256 amount);
    /// @notice The escrow needs only `uncovered` yen beyond its obligation and plans; `amount` was asked for.
    error BudgetObligationExceedsNeed(address escrow, uint256 uncovered, uint256 amount);
    /// @notice The line still carrying the escrow's obligation, of an earlier year, is not settled yet.
    error BudgetPreviousYearOpen(uint32 series, uint16 fiscalYear);

    /// @notice A series (the year-less part of a line key) got its number.
    event SeriesRegistered(
        uint32 indexed series, bytes32 indexed ministry, bytes32 organization, bytes32 item, bytes32 subItem
    );
    /// @notice The finance authority enacted an item's initial or supplementary budget (`amount` added, or cut if
    /// negative), citing the legal instrument's hash. Carries the item's totals after the act.
    event AppropriationEnacted(
        uint16 indexed fiscalYear,
        bytes32 indexed ministry,
        address indexed authority,
        ItemKey key,
        AppropriationAct act,
        int256 amount,
        uint256 enacted,
        uint256 appropriation,
        uint8 authorizations,
        bytes32 instrumentHash
    );
    /// @notice A ministry's finance officer gave a sub-item line `change` yen of its item (or took them back if
    /// negative). Carries the line's allotment and the item's distributed total after it.
    event Distributed(
        uint32 indexed series,
        uint16 indexed fiscalYear,
        address indexed officer,
        LineKey line,
        int256 change,
        uint256 allotted,
        uint256 itemDistributed
    );
    /// @notice A procurement's escrow obligated `amount` yen of the line (series, fiscal year), at creation or
    /// later. `buyer` is the procurement's ministry, `lineMinistry` the line's: they differ on a cross-ministry
    /// use of a grant. Carries the line's obligated total and the escrow's obligation after it.
    event Obligated(
        address indexed escrow,
        uint32 indexed series,
        uint16 indexed fiscalYear,
        bytes32 buyer,
        bytes32 lineMinistry,
        address officer,
        uint256 amount,
        uint256 lineObligated,
        uint256 escrowObligated
    );
    /// @notice An escrow paid `amount` yen to a supplier: a disbursement of the line. Carries the line's
    /// disbursed total after it.
    event Disbursed(
        address indexed escrow, uint32 indexed series, uint16 indexed fiscalYear, uint256 amount, uint256 lineDisbursed
    );
    /// @notice An escrow's need fell: `returned` yen it held were burned and, with `released` yen it had not
    /// drawn, de-obligated from the line; `unplanned` yen of later years' scheduled parts were dropped. Carries
    /// the line's obligated total and the escrow's obligation after it.
    event Deobligated(
        address indexed escrow,
        uint32 indexed series,
        uint16 indexed fiscalYear,
        uint256 returned,
        uint256 released,
        uint256 unplanned,
        uint256 lineObligated,
        uint256 escrowObligated
    );
    /// @notice A transfer the finance authority approved (in the budget office) took effect: `amount` yen of the
    /// line (fromSeries, fiscalYear) moved to (toSeries, fiscalYear). Carries both allotments after it.
    event Transferred(
        uint256 indexed transferId,
        uint32 indexed fromSeries,
        uint32 indexed toSeries,
        uint16 fiscalYear,
        uint256 amount,
        bool betweenItems,
        uint256 fromAllotted,
        uint256 toAllotted
    );
    /// @notice The finance authority approved carrying `amount` unobligated yen of the line into the next fiscal
    /// year; `carryOver` is the line's total approved carry-over.
    event CarryOverApproved(
        uint32 indexed series,
        uint16 indexed fiscalYear,
        address indexed authority,
        LineKey line,
        CarryOverKind kind,
        uint256 amount,
        uint256 carryOver,
        bytes32 reasonHash
    );
    /// @notice The finance authority closed a fiscal year: its lines take no more acts and are settled one by one.
    event FiscalYearClosed(uint16 indexed fiscalYear, address indexed authority, uint64 closedAt);
    /// @notice A line of a closed year was settled: `lapsed` yen of unobligated balance lapsed (不用額); the
    /// approved carry-over and the unpaid obligations moved to the next year's line, whose totals after it are
    /// carried.
    event LineSettled(
        uint32 indexed series,
        uint16 indexed fiscalYear,
        address indexed settler,
        LineKey line,
        uint256 lapsed,
        uint256 carriedOver,
        uint256 carriedObligations,
        uint256 nextAllotted,
        uint256 nextObligated
    );
    // ---------------------------------------------------------------- the finance authority

    /// @notice Enacts an item's initial budget (once, `amount` > 0) or a supplementary budget (`amount` added, or
    /// cut if negative, never below what the ministry has distributed), citing the legal instrument's hash.
    /// `authorizations` (TRANSFER_BETWEEN_ITEMS, CARRY_OVER bits) are added to the item's.
    function enactAppropriation(
        ItemKey calldata key,
        AppropriationAct act,
        int256 amount,
        uint8 authorizations,
        bytes32 instrumentHash
    ) external;








    /// @notice Applies a transfer the finance authority approved: only the budget office, which runs the
    /// request-approval workflow. Checks everything {checkTransfer} checks, again, at this moment.
    function applyTransfer(uint256 transferId, TransferRequest calldata request) external;

    /// @notice Approves carrying `amount` unobligated yen of a line into the next fiscal year, after the year
    /// ended and before it is closed. `Authorized` needs the item's CARRY_OVER authorization; both need a reason.
    function approveCarryOver(LineKey calldata line, CarryOverKind kind, uint256 amount, bytes32 reasonHash) external;


    /// @notice Closes a fiscal year once it has ended: no more acts on its lines; each is then settled.
    function closeFiscalYear(uint16 fiscalYear) external;


    // ---------------------------------------------------------------- a ministry's finance officer

    /// @notice Gives a sub-item line `change` yen of its item's undistributed appropriation, or takes back yen
    /// the line has available (negative). The first distribution to a sub-item creates its line.
    function distribute(LineKey calldata line, int256 change) external;






    // ---------------------------------------------------------------- procurements

    /// @notice Obligates a new procurement: the part of its milestones due in the current fiscal year against
    /// `line` (of the current fiscal year), later years' parts scheduled under the multi-year authority
    /// `authorityId`; then mints `initialFunding` yen into the escrow. Only the factory, in the creating
    /// transaction; the factory has checked that `officer` is an active procurement officer of `buyer`.
    function obligate(
        address escrow,
        bytes32 buyer,
        address officer,
        LineKey calldata line,
        bytes32 authorityId,
        uint256[] calldata amounts,
        uint64[] calldata dueDates,
        uint256 initialFunding
    ) external;

    /// @notice Obligates `amount` more yen of the current year's line for an escrow whose need grew beyond its
    /// obligation and plans (an amendment raised a milestone). A procurement officer of the buying ministry.
    function increaseObligation(address escrow, uint256 amount) external;


    /// @notice Obligates a multi-year procurement's part scheduled for the current fiscal year against that
    /// year's line, once enacted and once the line carrying the escrow's earlier obligations is settled. Anyone.
    function obligateScheduled(address escrow) external;

    /// @notice Mints `amount` yen into the calling escrow, within its obligation.
    function draw(uint256 amount) external;

    /// @notice Records that the calling escrow paid `amount` yen to a supplier: a disbursement of its line.
    function disburse(uint256 amount) external;

    /// @notice The calling escrow's need fell: burns `amount` yen it no longer needs and de-obligates them, and
    /// de-obligates (or unschedules) what its obligation and plans still cover beyond `shortfall`, the yen its open
    /// milestones and owed payments need beyond its balance after the burn.
    function returnFunds(uint256 amount, uint256 shortfall) external;

    // ---------------------------------------------------------------- anyone

    /// @notice Settles a line of a closed fiscal year: its unobligated balance beyond approved carry-overs lapses;
    /// carry-overs and unpaid obligations move to the next fiscal year's line.
    function settleLine(LineKey calldata line) external;

    // ---------------------------------------------------------------- views

    /// @notice Checks that a transfer could take effect now (reverting with the reason if not): lines of one
    /// ministry and fiscal year not over yet, the source line existing with `amount` available, and between items the
    /// Diet's authorization on both. Returns whether it goes between items (移用).
    function checkTransfer(TransferRequest calldata request) external view returns (bool betweenItems);

    /// @notice An item's appropriation.
    function item(ItemKey calldata key) external view returns (Item memory);

    /// @notice A line's balances (all zero, `exists` false, for a line that does not exist).
    function line(LineKey calldata key) external view returns (Line memory);

    /// @notice A line's balances by series and fiscal year.
    function lineOf(uint32 series, uint16 fiscalYear) external view returns (Line memory);

    /// @notice The series number of a line key's year-less part, zero if none yet.
    function seriesOf(LineKey calldata key) external view returns (uint32);

    /// @notice The line key of a series in a fiscal year.
    function lineKey(uint32 series, uint16 fiscalYear) external view returns (LineKey memory);

    /// @notice An escrow's obligation (the carrying year resolved past settled lines).
    function obligation(address escrow) external view returns (Obligation memory);







    /// @notice Whether a fiscal year is closed.
    function fiscalYearClosed(uint16 fiscalYear) external view returns (bool);




    /// @notice The budget office: it relays the signed forms of every act here, and runs transfer requests.
    function office() external view returns (address);

    /// @notice The access registry.
    function registry() external view returns (address);

    /// @notice The yen deposit token.
    function token() external view returns (address);

}
