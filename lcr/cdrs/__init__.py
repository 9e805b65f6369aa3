"""Reading CDR files (canonical CSV/Parquet, FreeSWITCH, Asterisk) into one normalised frame.

An edge package: it parses files and reports every malformed line (``CdrBatch.problems``);
what it returns is trusted by ``lcr.rating``.
"""

from lcr.cdrs.batch import CDR_SCHEMA, DISPOSITIONS, CdrBatch, CdrProblem
from lcr.cdrs.reader import FORMATS, detect_format, read_cdrs

__all__ = ["CDR_SCHEMA", "DISPOSITIONS", "FORMATS", "CdrBatch", "CdrProblem", "detect_format", "read_cdrs"]
