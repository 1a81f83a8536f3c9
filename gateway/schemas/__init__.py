"""Request and response schemas, one family per resource (XCreate, XPublic, XsPublic{data, count})."""
