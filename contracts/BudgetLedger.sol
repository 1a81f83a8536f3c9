// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessRegistry} from "./interfaces/IAccessRegistry.sol";
import {IBudgetLedger} from "./interfaces/IBudgetLedger.sol";
import {IBudgetOffice} from "./interfaces/IBudgetOffice.sol";
import {IMilestoneEscrow} from "./interfaces/IMilestoneEscrow.sol";
import {IYenToken} from "./interfaces/IYenToken.sol";
import {FiscalYear} from "./libraries/FiscalYear.sol";
import {Roles} from "./libraries/Roles.sol";
import {BudgetOffice} from "./BudgetOffice.sol";

/// @title BudgetLedger
/// @notice Appropriations, distributions, obligations, disbursements, transfers, year end and cross-ministry
/// access. See {IBudgetLedger}.
/// @dev Gas: the acts a procurement's life repeats touch one slot each. A line's balances share one slot
/// (allotted, obligated, disbursed as uint64, the carry-over as uint56, the line's state), and so does an
/// escrow's obligation (its line as a series number and the year carrying it, and its amounts as uint64); a
/// line is found by (series, fiscal year) without hashing its key. A transfer request stores one slot, the hash
/// of its content: whoever approves, refuses or withdraws it names the content again (and the approval names
/// exactly what takes effect). Every appropriation is at most MAX_YEN, 2^56 - 1 yen (about 7.2e16, some 600
/// times a year's national budget), so no sum of the uint64 balances can overflow even after centuries of
/// carry-overs.
contract BudgetLedger is IBudgetLedger {
    /// @notice Largest appropriation of one item, and largest single amount of any budget act.
    uint256 public constant MAX_YEN = type(uint56).max;
    /// @notice Authorization bit: the Diet authorized transfers between this item and other items (移用).
    uint8 public constant TRANSFER_BETWEEN_ITEMS = 1;
    /// @notice Authorization bit: the budget authorized carrying this item's unobligated yen over (明許繰越).
    uint8 public constant CARRY_OVER = 2;
    uint8 private constant _ALL_AUTHORIZATIONS = TRANSFER_BETWEEN_ITEMS | CARRY_OVER;
    uint8 private constant _NONE = 0;
    uint8 private constant _OPEN = 1;
    uint8 private constant _SETTLED = 2;

    /// @dev An item of one fiscal year, one slot.
    struct ItemRecord {
        uint64 enacted;
        uint64 appropriation;
        uint64 distributed;
        uint8 authorizations;
        bool initialEnacted;
    }

    /// @dev A line of one fiscal year, one slot; `state` is _NONE, _OPEN or _SETTLED.
    struct LineRecord {
        uint64 allotted;
        uint64 obligated;
        uint64 disbursed;
        uint56 carryOver;
        uint8 state;
    }

    /// @dev An escrow's obligation, one slot: `year` is the fiscal year of the line carrying it, possibly
    /// settled (then the next unsettled year's line carries it: see `_carrier`). `planned` sums the parts
    /// committed for later years under a multi-year authority (kept per year by the office).
    struct EscrowRecord {
        uint32 series;
        uint16 year;
        uint64 obligated;
        uint64 drawn;
        uint64 planned;
    }

    /// @dev The year-less codes of a series.
    struct SeriesCodes {
        bytes32 ministry;
        bytes32 organization;
        bytes32 item;
        bytes32 subItem;
    }

    /// @dev Who performs an act, resolved once per call: the account, its organization, and whether it holds the
    /// act's role while that organization is active.
    struct Actor {
        address account;
        bytes32 org;
        bool active;
    }

    IAccessRegistry private immutable _registry;
    IYenToken private immutable _token;
    address private immutable _office;

    uint32 private _seriesCount;
    mapping(bytes32 seriesCode => uint32 series) private _seriesOf;
    mapping(uint32 series => SeriesCodes) private _seriesCodes;
    mapping(bytes32 itemCode => mapping(uint16 fiscalYear => ItemRecord)) private _items;
    mapping(uint32 series => mapping(uint16 fiscalYear => LineRecord)) private _lines;
    mapping(uint16 fiscalYear => bool) private _closed;
    mapping(address escrow => EscrowRecord) private _escrows;

    /// @param registry_ The access registry (its admin must then call `setBudget` with this address).
    /// @param token_ The yen deposit token, which mints and burns only through this ledger.
    /// @param defenseMinistry The ministry whose multi-year authorities may run 10 years (kept by the office).
    constructor(IAccessRegistry registry_, IYenToken token_, bytes32 defenseMinistry) {
        _registry = registry_;
        _token = token_;
        _office = address(new BudgetOffice(registry_, this, defenseMinistry));
    }

    // ---------------------------------------------------------------- appropriations

    /// @inheritdoc IBudgetLedger
    function enactAppropriation(
        ItemKey calldata key,
        AppropriationAct act,
        int256 amount,
        uint8 authorizations,
        bytes32 instrumentHash
    ) external {
        _enactAppropriation(_caller(Roles.FINANCE_AUTHORITY), key, act, amount, authorizations, instrumentHash);
    }

    function _enactAppropriation(
        Actor memory authority,
        ItemKey calldata key,
        AppropriationAct act,
        int256 amount,
        uint8 authorizations,
        bytes32 instrumentHash
    ) private {
        _requireFinanceAuthority(authority);
        if (instrumentHash == bytes32(0)) revert BudgetMissingHash();
        if (authorizations & ~_ALL_AUTHORIZATIONS != 0) revert BudgetInvalidAmount(int256(uint256(authorizations)), 3);
        _requireItemKey(key.fiscalYear, key.organization, key.item);
        _requireMinistry(key.ministry);
        _requireOpenYear(key.fiscalYear);
        bytes32 itemCode = _itemCode(key.ministry, key.organization, key.item);
        ItemRecord memory it = _items[itemCode][key.fiscalYear];
        if ((act == AppropriationAct.Initial) == it.initialEnacted) revert BudgetInitialBudget(key, it.initialEnacted);
        if (amount == 0 || (act == AppropriationAct.Initial && amount < 0)) revert BudgetInvalidAmount(amount, MAX_YEN);
        if (amount > 0) {
            uint256 added = uint256(amount);
            if (added > MAX_YEN || it.appropriation + added > MAX_YEN) revert BudgetInvalidAmount(amount, MAX_YEN);
            it.enacted += uint64(added);
            it.appropriation += uint64(added);
        } else {
            // A cut never takes back what the ministry has distributed, nor more than the budgets enacted.
            uint256 cut = amount < -int256(MAX_YEN) ? MAX_YEN + 1 : uint256(-amount);
            uint256 undistributed = it.appropriation - it.distributed;
            if (cut > undistributed) revert BudgetExceedsItem(key, undistributed, cut);
            if (cut > it.enacted) revert BudgetInvalidAmount(amount, it.enacted);
            it.enacted -= uint64(cut);
            it.appropriation -= uint64(cut);
        }
        it.initialEnacted = true;
        it.authorizations |= authorizations;
        _items[itemCode][key.fiscalYear] = it;
        emit AppropriationEnacted(
            key.fiscalYear,
            key.ministry,
            authority.account,
            key,
            act,
            amount,
            it.enacted,
            it.appropriation,
            it.authorizations,
            instrumentHash
        );
    }

    // ---------------------------------------------------------------- distribution

    /// @inheritdoc IBudgetLedger
    function distribute(LineKey calldata line_, int256 change) external {
        _distribute(_caller(Roles.TREASURY), line_, change);
    }

    function _distribute(Actor memory officer, LineKey calldata key, int256 change) private {
        _requireMember(officer, Roles.TREASURY, key.ministry);
        _requireKey(key.fiscalYear, key.organization, key.item, key.subItem);
        _requireOpenYear(key.fiscalYear);
        bytes32 itemCode = _itemCode(key.ministry, key.organization, key.item);
        ItemRecord memory it = _items[itemCode][key.fiscalYear];
        if (!it.initialEnacted) {
            revert BudgetInitialBudget(ItemKey(key.fiscalYear, key.ministry, key.organization, key.item), false);
        }
        uint32 series = _seriesOf[_seriesCode(key)];
        LineRecord memory l = _lines[series][key.fiscalYear];
        if (change > 0) {
            uint256 undistributed = it.appropriation - it.distributed;
            if (uint256(change) > undistributed) {
                revert BudgetExceedsItem(
                    ItemKey(key.fiscalYear, key.ministry, key.organization, key.item), undistributed, uint256(change)
                );
            }
            if (series == 0) series = _registerSeries(key);
            // Both bounded by the item's appropriation (<= MAX_YEN plus carried-in yen): no overflow.
            l.allotted += uint64(uint256(change));
            it.distributed += uint64(uint256(change));
            l.state = _OPEN;
        } else {
            if (l.state == _NONE) revert BudgetUnknownLine(key);
            uint256 taken = change < -int256(MAX_YEN) ? MAX_YEN + 1 : uint256(-change);
            uint256 available = _available(l);
            if (taken == 0 || taken > available) revert BudgetExceedsAvailable(key, available, taken);
            l.allotted -= uint64(taken);
            it.distributed -= uint64(taken);
        }
        _lines[series][key.fiscalYear] = l;
        _items[itemCode][key.fiscalYear] = it;
        emit Distributed(series, key.fiscalYear, officer.account, key, change, l.allotted, it.distributed);
    }

    // ---------------------------------------------------------------- obligations

    /// @inheritdoc IBudgetLedger
    function obligate(
        address escrow,
        bytes32 buyer,
        address officer,
        LineKey calldata key,
        bytes32 authorityId,
        uint256[] calldata amounts,
        uint64[] calldata dueDates,
        uint256 initialFunding
    ) external {
        if (msg.sender != _registry.factory()) revert BudgetUnauthorizedCaller(msg.sender);
        if (_escrows[escrow].series != 0) revert BudgetAlreadyObligated(escrow);
        uint16 year = FiscalYear.containing(block.timestamp);
        if (key.fiscalYear != year) revert BudgetNotCurrentYear(key.fiscalYear, year);
        uint32 series = _seriesOf[_seriesCode(key)];
        LineRecord memory l = _lines[series][year];
        if (l.state != _OPEN) revert BudgetUnknownLine(key);
        // The factory checked every due date (in the future) and amount (at most 2^58 - 1, 64 milestones at
        // most): the sums below fit 64 bits.
        uint256 nextYearStarts = FiscalYear.start(uint256(year) + 1);
        uint256 current = 0;
        uint256 later = 0;
        for (uint256 i = 0; i < amounts.length; ++i) {
            if (dueDates[i] < nextYearStarts) current += amounts[i];
            else later += amounts[i];
        }
        EscrowRecord memory e = EscrowRecord({
            series: series,
            year: year,
            obligated: uint64(current),
            drawn: uint64(initialFunding),
            planned: uint64(later)
        });
        if (later != 0) {
            if (buyer != key.ministry) revert BudgetCrossMinistryMultiYear(buyer, key.ministry);
            IBudgetOffice(_office).commitSchedule(escrow, authorityId, _seriesCode(key), amounts, dueDates);
        }
        uint256 available = _available(l);
        if (current > available) revert BudgetExceedsAvailable(key, available, current);
        if (buyer != key.ministry) IBudgetOffice(_office).useGrant(series, year, key.ministry, buyer, escrow, current);
        if (initialFunding > current) revert BudgetDrawExceedsObligation(escrow, current, initialFunding);
        l.obligated += uint64(current);
        _lines[series][year] = l;
        _escrows[escrow] = e;
        emit Obligated(escrow, series, year, buyer, key.ministry, officer, current, l.obligated, current);
        if (initialFunding != 0) _mint(escrow, e, initialFunding);
    }

    /// @inheritdoc IBudgetLedger
    function increaseObligation(address escrow, uint256 amount) external {
        _increaseObligation(_caller(Roles.PROCUREMENT_OFFICER), escrow, amount);
    }

    function _increaseObligation(Actor memory officer, address escrow, uint256 amount) private {
        EscrowRecord memory e = _escrows[escrow];
        if (e.series == 0) revert BudgetUnknownEscrow(escrow);
        // The escrow is a procurement of the officer's ministry exactly when the registry has it under that ministry.
        bytes32 buyer = officer.org;
        if (!officer.active || _registry.escrowOf(buyer, _registry.procurementOf(escrow)) != escrow) {
            revert BudgetUnauthorized(officer.account, Roles.PROCUREMENT_OFFICER, buyer);
        }
        LineRecord memory l = _carrier(e);
        uint16 year = FiscalYear.containing(block.timestamp);
        if (e.year != year) revert BudgetPreviousYearOpen(e.series, e.year);
        uint256 covered = e.obligated - e.drawn + e.planned;
        uint256 shortfall = IMilestoneEscrow(escrow).shortfall();
        uint256 uncovered = shortfall > covered ? shortfall - covered : 0;
        if (amount == 0 || amount > uncovered) revert BudgetObligationExceedsNeed(escrow, uncovered, amount);
        uint256 available = _available(l);
        if (amount > available) revert BudgetExceedsAvailable(_lineKey(e.series, year), available, amount);
        bytes32 lineMinistry = _seriesCodes[e.series].ministry;
        if (buyer != lineMinistry) IBudgetOffice(_office).useGrant(e.series, year, lineMinistry, buyer, escrow, amount);
        // Both at most the escrow's need (< 2^64) plus what it already had obligated.
        l.obligated += uint64(amount);
        e.obligated += uint64(amount);
        _lines[e.series][year] = l;
        _escrows[escrow] = e;
        emit Obligated(escrow, e.series, year, buyer, lineMinistry, officer.account, amount, l.obligated, e.obligated);
    }

    /// @inheritdoc IBudgetLedger
    function obligateScheduled(address escrow) external {
        EscrowRecord memory e = _escrows[escrow];
        if (e.series == 0) revert BudgetUnknownEscrow(escrow);
        LineRecord memory l = _carrier(e);
        uint16 year = FiscalYear.containing(block.timestamp);
        if (e.year != year) revert BudgetPreviousYearOpen(e.series, e.year);
        // This year's part, and any earlier year's part that was not obligated in its own year.
        uint256 part = IBudgetOffice(_office).takeSchedule(escrow, year);
        if (l.state == _NONE) revert BudgetUnknownLine(_lineKey(e.series, year));
        uint256 available = _available(l);
        if (part > available) revert BudgetExceedsAvailable(_lineKey(e.series, year), available, part);
        l.obligated += uint64(part);
        l.state = _OPEN;
        e.obligated += uint64(part);
        e.planned -= uint64(part);
        _lines[e.series][year] = l;
        _escrows[escrow] = e;
        // Multi-year procurements obligate their own ministry's lines only: buyer and line ministry coincide.
        bytes32 ministry = _seriesCodes[e.series].ministry;
        emit Obligated(escrow, e.series, year, ministry, ministry, msg.sender, part, l.obligated, e.obligated);
    }

    // ---------------------------------------------------------------- the escrows' yen

    /// @inheritdoc IBudgetLedger
    function draw(uint256 amount) external {
        EscrowRecord memory e = _escrows[msg.sender];
        if (e.series == 0) revert BudgetUnauthorizedCaller(msg.sender);
        uint256 undrawn = e.obligated - e.drawn;
        if (amount == 0 || amount > undrawn) revert BudgetDrawExceedsObligation(msg.sender, undrawn, amount);
        _carrier(e);
        e.drawn += uint64(amount);
        _escrows[msg.sender] = e;
        _mint(msg.sender, e, amount);
    }

    /// @inheritdoc IBudgetLedger
    function disburse(uint256 amount) external {
        EscrowRecord memory e = _escrows[msg.sender];
        if (e.series == 0) revert BudgetUnauthorizedCaller(msg.sender);
        uint16 year = e.year;
        LineRecord memory l = _carrier(e);
        if (e.year != year) _escrows[msg.sender] = e;
        // The escrow pays only yen it drew, which its obligation on this line backs (or, once the year before
        // was settled, the unpaid obligation carried into it): disbursed stays within obligated.
        l.disbursed += uint64(amount);
        _lines[e.series][e.year] = l;
        emit Disbursed(msg.sender, e.series, e.year, amount, l.disbursed);
    }

    /// @inheritdoc IBudgetLedger
    function returnFunds(uint256 amount, uint256 shortfall) external {
        EscrowRecord memory e = _escrows[msg.sender];
        if (e.series == 0) revert BudgetUnauthorizedCaller(msg.sender);
        LineRecord memory l = _carrier(e);
        // The escrow returns only yen it holds, which it drew: at most `drawn`.
        e.drawn -= uint64(amount);
        e.obligated -= uint64(amount);
        uint256 covered = e.obligated - e.drawn + e.planned;
        uint256 excess = covered > shortfall ? covered - shortfall : 0;
        uint256 unplanned = e.planned != 0 && excess != 0 ? IBudgetOffice(_office).releaseSchedule(msg.sender, excess) : 0;
        e.planned -= uint64(unplanned);
        uint256 released = excess - unplanned;
        e.obligated -= uint64(released);
        l.obligated -= uint64(amount + released);
        _lines[e.series][e.year] = l;
        _escrows[msg.sender] = e;
        if (amount != 0) _token.burn(msg.sender, amount, _lineId(e.series, e.year));
        if (amount != 0 || excess != 0) {
            emit Deobligated(msg.sender, e.series, e.year, amount, released, unplanned, l.obligated, e.obligated);
        }
    }

    function _mint(address escrow, EscrowRecord memory e, uint256 amount) private {
        _token.mint(escrow, amount, _lineId(e.series, e.year));
    }

    // ---------------------------------------------------------------- transfers

    /// @inheritdoc IBudgetLedger
    function checkTransfer(TransferRequest calldata request) external view returns (bool betweenItems) {
        (,, betweenItems) = _checkTransfer(request);
    }

    /// @inheritdoc IBudgetLedger
    function applyTransfer(uint256 transferId, TransferRequest calldata request) external {
        if (msg.sender != _office) revert BudgetUnauthorizedCaller(msg.sender);
        (uint32 fromSeries, LineRecord memory fromLine, bool betweenItems) = _checkTransfer(request);
        LineKey calldata from = request.from;
        LineKey calldata to = request.to;
        uint256 amount = request.amount;
        uint32 toSeries = _seriesOf[_seriesCode(to)];
        if (toSeries == 0) toSeries = _registerSeries(to);
        LineRecord memory toLine = _lines[toSeries][to.fiscalYear];
        fromLine.allotted -= uint64(amount);
        // Within one item the sum of allotments is bounded by the item; between items by both (< 2^64).
        toLine.allotted += uint64(amount);
        toLine.state = _OPEN;
        _lines[fromSeries][from.fiscalYear] = fromLine;
        _lines[toSeries][to.fiscalYear] = toLine;
        if (betweenItems) {
            ItemRecord storage source = _items[_itemCode(from.ministry, from.organization, from.item)][from.fiscalYear];
            source.appropriation -= uint64(amount);
            source.distributed -= uint64(amount);
            ItemRecord storage target = _items[_itemCode(to.ministry, to.organization, to.item)][to.fiscalYear];
            target.appropriation += uint64(amount);
            target.distributed += uint64(amount);
        }
        emit Transferred(
            transferId, fromSeries, toSeries, from.fiscalYear, amount, betweenItems, fromLine.allotted, toLine.allotted
        );
    }

    /// @dev A transfer's lines must be of one ministry and fiscal year (not over yet), the source line must exist
    /// and have the amount available, and a transfer between items needs the Diet's authorization on both items.
    function _checkTransfer(TransferRequest calldata request)
        private
        view
        returns (uint32 fromSeries, LineRecord memory fromLine, bool betweenItems)
    {
        LineKey calldata from = request.from;
        LineKey calldata to = request.to;
        // Same year and ministry: the lines differ unless organization, item and sub-item are all equal (the
        // fields of their series code), and the items differ if organization or item does (compared as fields:
        // no hashing on the common path).
        betweenItems = from.organization != to.organization || from.item != to.item;
        if (
            from.fiscalYear != to.fiscalYear || from.ministry != to.ministry
                || (!betweenItems && from.subItem == to.subItem) || request.amount == 0
        ) revert BudgetInvalidTransfer(from, to, request.amount);
        _requireKey(to.fiscalYear, to.organization, to.item, to.subItem);
        // Transfers happen within their fiscal year: one not over yet is not closed either (closing needs the year
        // over), so this time check spares a storage read of the closed years.
        uint256 endsAt = FiscalYear.start(uint256(from.fiscalYear) + 1);
        if (block.timestamp >= endsAt) revert BudgetYearOver(from.fiscalYear, endsAt);
        (fromSeries, fromLine) = _existingLine(from);
        uint256 available = _available(fromLine);
        if (request.amount > available) revert BudgetExceedsAvailable(from, available, request.amount);
        if (betweenItems) {
            ItemRecord memory source = _items[_itemCode(from.ministry, from.organization, from.item)][from.fiscalYear];
            ItemRecord memory target = _items[_itemCode(to.ministry, to.organization, to.item)][to.fiscalYear];
            if (
                source.authorizations & TRANSFER_BETWEEN_ITEMS == 0
                    || target.authorizations & TRANSFER_BETWEEN_ITEMS == 0 || !target.initialEnacted
            ) {
                revert BudgetTransferNotAuthorized(
                    ItemKey(from.fiscalYear, from.ministry, from.organization, from.item),
                    ItemKey(to.fiscalYear, to.ministry, to.organization, to.item)
                );
            }
        }
    }

    // ---------------------------------------------------------------- year end

    /// @inheritdoc IBudgetLedger
    function approveCarryOver(LineKey calldata line_, CarryOverKind kind, uint256 amount, bytes32 reasonHash)
        external
    {
        _approveCarryOver(_caller(Roles.FINANCE_AUTHORITY), line_, kind, amount, reasonHash);
    }

    function _approveCarryOver(
        Actor memory authority_,
        LineKey calldata key,
        CarryOverKind kind,
        uint256 amount,
        bytes32 reasonHash
    ) private {
        _requireFinanceAuthority(authority_);
        if (reasonHash == bytes32(0)) revert BudgetMissingHash();
        _requireYearOver(key.fiscalYear);
        _requireOpenYear(key.fiscalYear);
        (uint32 series, LineRecord memory l) = _existingLine(key);
        if (kind == CarryOverKind.Authorized) {
            uint8 authorizations = _items[_itemCode(key.ministry, key.organization, key.item)][key.fiscalYear]
                .authorizations;
            if (authorizations & CARRY_OVER == 0) revert BudgetCarryOverNotAuthorized(key, kind);
        }
        uint256 available = _available(l);
        if (amount == 0 || amount > available || l.carryOver + amount > MAX_YEN) {
            revert BudgetExceedsAvailable(key, available, amount);
        }
        l.carryOver += uint56(amount);
        _lines[series][key.fiscalYear] = l;
        emit CarryOverApproved(series, key.fiscalYear, authority_.account, key, kind, amount, l.carryOver, reasonHash);
    }

    /// @inheritdoc IBudgetLedger
    function closeFiscalYear(uint16 fiscalYear) external {
        _closeFiscalYear(_caller(Roles.FINANCE_AUTHORITY), fiscalYear);
    }

    function _closeFiscalYear(Actor memory authority_, uint16 fiscalYear) private {
        _requireFinanceAuthority(authority_);
        _requireYearOver(fiscalYear);
        _requireOpenYear(fiscalYear);
        _closed[fiscalYear] = true;
        emit FiscalYearClosed(fiscalYear, authority_.account, uint64(block.timestamp));
    }

    /// @inheritdoc IBudgetLedger
    function settleLine(LineKey calldata key) external {
        if (!_closed[key.fiscalYear]) revert BudgetYearNotClosed(key.fiscalYear);
        (uint32 series, LineRecord memory l) = _existingLine(key);
        if (l.state == _SETTLED) revert BudgetLineSettled(key);
        uint256 carriedOver = l.carryOver;
        uint256 unpaid = l.obligated - l.disbursed;
        uint256 lapsed = l.allotted - l.obligated - carriedOver;
        l.state = _SETTLED;
        _lines[series][key.fiscalYear] = l;
        // Unpaid obligations move on with the authority to pay them; approved carry-overs move on unobligated.
        uint16 next = key.fiscalYear + 1;
        LineRecord memory n = _lines[series][next];
        n.allotted += uint64(unpaid + carriedOver);
        n.obligated += uint64(unpaid);
        n.state = _OPEN;
        _lines[series][next] = n;
        ItemRecord storage nextItem = _items[_itemCode(key.ministry, key.organization, key.item)][next];
        nextItem.appropriation += uint64(unpaid + carriedOver);
        nextItem.distributed += uint64(unpaid + carriedOver);
        emit LineSettled(series, key.fiscalYear, msg.sender, key, lapsed, carriedOver, unpaid, n.allotted, n.obligated);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IBudgetLedger
    function item(ItemKey calldata key) external view returns (Item memory) {
        ItemRecord memory it = _items[_itemCode(key.ministry, key.organization, key.item)][key.fiscalYear];
        return Item(it.initialEnacted, it.authorizations, it.enacted, it.appropriation, it.distributed);
    }

    /// @inheritdoc IBudgetLedger
    function line(LineKey calldata key) external view returns (Line memory) {
        return lineOf(_seriesOf[_seriesCode(key)], key.fiscalYear);
    }

    /// @inheritdoc IBudgetLedger
    function lineOf(uint32 series, uint16 fiscalYear) public view returns (Line memory) {
        LineRecord memory l = _lines[series][fiscalYear];
        if (series == 0) l = LineRecord(0, 0, 0, 0, _NONE);
        return Line({
            series: series,
            exists: l.state != _NONE,
            settled: l.state == _SETTLED,
            allotted: l.allotted,
            obligated: l.obligated,
            disbursed: l.disbursed,
            carryOver: l.carryOver,
            available: _available(l)
        });
    }

    /// @inheritdoc IBudgetLedger
    function seriesOf(LineKey calldata key) external view returns (uint32) {
        return _seriesOf[_seriesCode(key)];
    }

    /// @inheritdoc IBudgetLedger
    function lineKey(uint32 series, uint16 fiscalYear) external view returns (LineKey memory) {
        return _lineKey(series, fiscalYear);
    }

    /// @inheritdoc IBudgetLedger
    function obligation(address escrow) external view returns (Obligation memory) {
        EscrowRecord memory e = _escrows[escrow];
        if (e.series != 0) _carrier(e);
        return Obligation(e.series, e.year, e.obligated, e.drawn, e.planned);
    }







    /// @inheritdoc IBudgetLedger
    function fiscalYearClosed(uint16 fiscalYear) external view returns (bool) {
        return _closed[fiscalYear];
    }




    /// @inheritdoc IBudgetLedger
    function office() external view returns (address) {
        return _office;
    }

    /// @inheritdoc IBudgetLedger
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IBudgetLedger
    function token() external view returns (address) {
        return address(_token);
    }


    // ---------------------------------------------------------------- internals

    /// @dev The line carrying an escrow's obligation: the line of `e.year`, or, once that line was settled at
    /// year end (its unpaid obligations moved on), the next year's, and so on. Moves `e.year` along.
    function _carrier(EscrowRecord memory e) private view returns (LineRecord memory l) {
        l = _lines[e.series][e.year];
        while (l.state == _SETTLED) {
            ++e.year;
            l = _lines[e.series][e.year];
        }
    }

    function _available(LineRecord memory l) private pure returns (uint256) {
        return l.allotted - l.obligated - l.carryOver;
    }

    /// @dev A line that exists (something was distributed or carried to it), with its series.
    function _existingLine(LineKey calldata key) private view returns (uint32 series, LineRecord memory l) {
        series = _seriesOf[_seriesCode(key)];
        l = _lines[series][key.fiscalYear];
        if (series == 0 || l.state == _NONE) revert BudgetUnknownLine(key);
    }

    function _registerSeries(LineKey calldata key) private returns (uint32 series) {
        series = ++_seriesCount;
        _seriesOf[_seriesCode(key)] = series;
        _seriesCodes[series] = SeriesCodes(key.ministry, key.organization, key.item, key.subItem);
        emit SeriesRegistered(series, key.ministry, key.organization, key.item, key.subItem);
    }

    function _lineKey(uint32 series, uint16 fiscalYear) private view returns (LineKey memory) {
        SeriesCodes memory c = _seriesCodes[series];
        return LineKey(fiscalYear, c.ministry, c.organization, c.item, c.subItem);
    }

    /// @dev The token's name for a line: series and fiscal year in one word.
    function _lineId(uint32 series, uint16 fiscalYear) private pure returns (bytes32) {
        return bytes32((uint256(series) << 16) | fiscalYear);
    }

    function _seriesCode(LineKey calldata key) private pure returns (bytes32) {
        return keccak256(abi.encode(key.ministry, key.organization, key.item, key.subItem));
    }

    function _itemCode(bytes32 ministry, bytes32 organization, bytes32 item_) private pure returns (bytes32) {
        return keccak256(abi.encode(ministry, organization, item_));
    }

    function _requireKey(uint16 fiscalYear, bytes32 organization, bytes32 item_, bytes32 subItem) private pure {
        _requireItemKey(fiscalYear, organization, item_);
        if (subItem == bytes32(0)) revert BudgetInvalidKey(fiscalYear, organization, item_, subItem);
    }

    function _requireItemKey(uint16 fiscalYear, bytes32 organization, bytes32 item_) private pure {
        if (fiscalYear == 0 || organization == bytes32(0) || item_ == bytes32(0)) {
            revert BudgetInvalidKey(fiscalYear, organization, item_, bytes32(0));
        }
    }

    function _requireMinistry(bytes32 ministry) private view {
        if (_registry.organization(ministry).kind != IAccessRegistry.OrgKind.Ministry) {
            revert BudgetUnknownMinistry(ministry);
        }
    }

    function _requireOpenYear(uint16 fiscalYear) private view {
        if (_closed[fiscalYear]) revert BudgetYearClosed(fiscalYear);
    }

    function _requireYearOver(uint16 fiscalYear) private view {
        uint256 endsAt = FiscalYear.start(uint256(fiscalYear) + 1);
        if (block.timestamp < endsAt) revert BudgetYearNotOver(fiscalYear, endsAt);
    }

    function _requireFinanceAuthority(Actor memory actor) private pure {
        if (!actor.active) revert BudgetUnauthorized(actor.account, Roles.FINANCE_AUTHORITY, actor.org);
    }

    /// @dev `actor` holds `role` in `org` (which must be active).
    function _requireMember(Actor memory actor, bytes32 role, bytes32 org) private pure {
        if (!actor.active || actor.org != org) revert BudgetUnauthorized(actor.account, role, org);
    }

    /// @dev The acting account, with its status in `role` from the registry: the caller, or, for a signed act the
    /// office relays, its signer (appended to the call data by the office, as ERC-2771's trusted forwarder does).
    function _caller(bytes32 role) private view returns (Actor memory) {
        address account = msg.sender;
        if (account == _office) account = address(bytes20(msg.data[msg.data.length - 20:]));
        (bytes32 org, bool active) = _registry.roleStatus(role, account);
        return Actor({account: account, org: org, active: active});
    }
}
