// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title FiscalYear
/// @notice Japan's fiscal year (Public Finance Act, Art. 11): fiscal year N runs from 1 April N, 00:00 JST, to
/// 31 March N+1, 23:59:59 JST. JST is UTC+9 all year (no daylight saving time).
/// @dev Civil dates by Howard Hinnant's `civil_from_days` / `days_from_civil` (proleptic Gregorian calendar),
/// in unsigned arithmetic: valid from 1 March 0000, far before any block time.
library FiscalYear {
    uint256 private constant _JST_OFFSET = 9 hours;
    /// @dev Days from 0000-03-01 to 1970-01-01.
    uint256 private constant _EPOCH_SHIFT = 719_468;
    uint256 private constant _DAYS_PER_ERA = 146_097;

    /// @notice The fiscal year that contains unix time `timestamp`.
    function containing(uint256 timestamp) internal pure returns (uint16) {
        uint256 z = (timestamp + _JST_OFFSET) / 1 days + _EPOCH_SHIFT;
        uint256 era = z / _DAYS_PER_ERA;
        uint256 dayOfEra = z - era * _DAYS_PER_ERA;
        uint256 yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365;
        uint256 dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
        // The computed "year" starts on 1 March: month index 0 is March, 1 April ... 10 January, 11 February.
        uint256 monthIndex = (5 * dayOfYear + 2) / 153;
        uint256 marchYear = yearOfEra + era * 400;
        // A fiscal year starts on 1 April: March (index 0) still belongs to the fiscal year before.
        return uint16(monthIndex == 0 ? marchYear - 1 : marchYear);
    }

    /// @notice The unix time fiscal year `fiscalYear` starts: 1 April, 00:00 JST.
    function start(uint256 fiscalYear) internal pure returns (uint256) {
        // days_from_civil(fiscalYear, 4, 1): April is month index 1 of the year starting in March.
        uint256 era = fiscalYear / 400;
        uint256 yearOfEra = fiscalYear - era * 400;
        uint256 dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + 31;
        return (era * _DAYS_PER_ERA + dayOfEra - _EPOCH_SHIFT) * 1 days - _JST_OFFSET;
    }
}
