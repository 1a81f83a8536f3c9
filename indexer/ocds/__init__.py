"""OCDS 1.1 publication of the mirror: releases (``releases``), records and packages (``packages``), CSV and XLSX
(``flatten``), classified fields withheld (``withheld``), the vendored schemas (``schema``)."""
