"""One small module per format; `domain.ingestion.parsing.parse_file` dispatches to them.

Every parser takes the file's path and the parse limits and returns sections; it raises
ParseError for what it recognises as the user's problem and may let anything else
escape, which `parse_file` turns into a readable ParseError.
"""
