"""CSV import of configuration items and relationships, applied by the worker.

A run reads its file as a stream, a chunk of rows at a time: each chunk is checked in
Python against reference data loaded once and against the CIs its rows name (one
query per kind of lookup), then written in bulk: the CIs, their customers and
services, their change-history rows and search entries (``imports_cis``,
``imports_write``), or the relationships and their history
(``imports_relationships``). Exports write the same columns (``imports_export``).
The whole file is one transaction: one bad row and nothing is written. (A CI import
checks a chunk while a second connection, which holds that transaction, writes the
chunks before it: see ``CIImporter.applying``.) Every error names its line and column
in plain words; the first 200 are kept. Importing a file a second time changes
nothing: a row equal to the CI it names counts as unchanged and leaves no history.

While a run works, its progress (rows read out of the total) goes to the job queue's
key-value store, where the pages read it: the run's own row is written when the run
starts and when it ends, since inside the import's transaction no other connection
may write on SQLite.
"""

import codecs
import csv
import datetime
import gc
import itertools
import logging
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from huey.contrib.djhuey import HUEY, db_task

from accord.core.context import acting_as
from accord.core.policy import can, scope_for

from .choices import RunStatus
from .models import ConfigurationItem, GraphEvent, ImportRun

log = logging.getLogger(__name__)

MAX_ERRORS = 200
CHUNK = 2500  # rows checked, then written, together (fewer, larger statements)
PROGRESS_EVERY = 0.5  # seconds between two progress figures
FORMULA_STARTS = ("=", "+", "-", "@")
# What an export writes before a value that starts like a formula (core.exports).
EXPORT_ESCAPES = ("=", "+", "-", "@", "\t", "\r")

KEY_CHOICES = [
    ("external_key", gettext_lazy("External key")),
    ("name", gettext_lazy("Name and type")),
    ("serial", gettext_lazy("Serial number")),
]
KEY_COLUMNS = {key for key, _label in KEY_CHOICES}


def max_upload_bytes():
    return getattr(settings, "CMDB_IMPORT_MAX_BYTES", 200 * 1024 * 1024)


def may_import(user) -> bool:
    return can(user, "import", ConfigurationItem)


def may_see_runs(user) -> bool:
    """Importers see their own runs; administrators and auditors see every run."""
    scope = scope_for(user)
    return scope is not None and (may_import(user) or scope.read_only)


def visible_runs(user):
    scope = scope_for(user)
    if scope is None or not may_see_runs(user):
        return ImportRun.objects.none()
    runs = ImportRun.objects.select_related("created_by")
    if scope.all_customers:
        return runs
    return runs.filter(created_by=user)


# --- errors ---------------------------------------------------------------------------
class FileProblem(Exception):
    """The file cannot be read on from here (not UTF-8, broken quoting, no header)."""

    def __init__(self, line, column, message):
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


class Rollback(Exception):
    """Raised inside the import's transaction when any row was refused."""


class Problems:
    """The errors of a run, in file order; the first ``MAX_ERRORS`` are kept."""

    def __init__(self):
        self.items = []
        self.count = 0

    def add(self, line, column, message):
        self.count += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append({"line": line, "column": column or "", "message": str(message)})

    @property
    def full(self):
        return self.count >= MAX_ERRORS

    def __bool__(self):
        return self.count > 0


# --- reading the file -----------------------------------------------------------------
def count_rows(binary) -> int:
    """The number of data lines (lines after the header), read in blocks: a cell that
    holds a line break makes it an upper bound, corrected when the run ends."""
    lines, last = 0, b""
    for block in iter(lambda: binary.read(1 << 20), b""):
        lines += block.count(b"\n")
        last = block
    if last and not last.endswith(b"\n"):
        lines += 1
    binary.seek(0)
    return max(0, lines - 1)


class CsvFile:
    """The rows of an uploaded CSV file, read as a stream: ``header`` (the column
    names, trimmed and lower-cased), then ``rows()`` yields (line, cells) with the line
    number where each row starts. Blank lines are skipped. The separator is a comma,
    or the semicolon or tab the header line uses instead."""

    def __init__(self, binary):
        self._binary = binary
        self._line = 0
        self.header = None
        lines = self._decoded()
        first = next(lines, None)
        while first is not None and not first.strip():
            first = next(lines, None)
        if first is None:
            raise FileProblem(1, "", _("The file is empty: its first line must name the columns."))
        counts = {sep: first.count(sep) for sep in (",", ";", "\t")}
        self.delimiter = max(counts, key=lambda sep: (counts[sep], sep == ","))
        self._first_line = self._line
        self._reader = csv.reader(
            itertools.chain([first], lines), delimiter=self.delimiter, strict=True
        )
        try:
            header = next(self._reader)
        except csv.Error as exc:
            raise FileProblem(self._first_line, "", self._csv_message(exc)) from None
        self.header = [cell.strip().lower() for cell in header]
        self._previous = self._first_line - 1 + self._reader.line_num

    def _decoded(self):
        # readline: the file's own (C) line splitting; iterating a Django File splits
        # lines in Python.
        for raw in iter(self._binary.readline, b""):
            self._line += 1
            if self._line == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            if b"\x00" in raw:
                raise FileProblem(
                    self._line,
                    "",
                    _(
                        "This line holds a NUL byte: the file is not UTF-8 text (UTF-16, "
                        "or not text at all). Save it as “CSV UTF-8” and import it again."
                    ),
                )
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FileProblem(
                    self._line,
                    self._column_at(raw, exc.start),
                    _(
                        "This line is not UTF-8 text (byte 0x%(byte)02X). Save the file "
                        "as “CSV UTF-8” and import it again."
                    )
                    % {"byte": raw[exc.start]},
                ) from None

    def _column_at(self, raw, position):
        """The column a byte position falls in, when the header is known."""
        if self.header is None:
            return ""
        prefix = raw[:position].decode("utf-8", errors="replace")
        try:
            index = len(next(csv.reader([prefix], delimiter=self.delimiter))) - 1
        except (csv.Error, StopIteration):
            return ""
        return self.header[index] if 0 <= index < len(self.header) else ""

    @staticmethod
    def _csv_message(exc):
        return _("This line is not valid CSV (%(error)s); check its quotes.") % {"error": exc}

    def rows(self):
        reader = self._reader
        while True:
            start = self._previous + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileProblem(start, "", self._csv_message(exc)) from None
            self._previous = self._first_line - 1 + reader.line_num
            if not cells or (not cells[0].strip() and not any(c.strip() for c in cells)):
                continue
            yield start, cells


def cell_text(raw):
    """(text, is_formula): the trimmed cell; a value an export escaped with a leading
    quote gets its value back; otherwise a value that starts like a spreadsheet
    formula is flagged (the caller refuses it unless a number is expected)."""
    text = raw.strip()
    if not text:
        return text, False
    first = text[0]
    if first == "'" and text[1:2] and text[1] in EXPORT_ESCAPES:
        return text[1:], False
    return text, first in FORMULA_STARTS


def formula_message():
    return _(
        "This cell starts with a formula character (=, +, - or @). Such values are "
        "refused: remove the character or the formula."
    )


def parse_date(text):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


# --- bulk writes ----------------------------------------------------------------------
class IdAllocator:
    """Primary keys for rows inserted in bulk, drawn before the INSERT so the rows
    that refer to them (many-to-many, history, a location named a few rows later) can
    be built alongside."""

    def __init__(self, model):
        self.model = model
        self.next = None
        self.sequence = None

    def take(self, n):
        if not n:
            return []
        meta = self.model._meta
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if self.sequence is None:
                    # Looked up once: per row it costs more than the nextval.
                    cursor.execute(
                        "SELECT pg_get_serial_sequence(%s, %s)", [meta.db_table, meta.pk.column]
                    )
                    self.sequence = cursor.fetchone()[0]
                cursor.execute(
                    "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [self.sequence, n]
                )
                return [row[0] for row in cursor.fetchall()]
        # SQLite: the import's transaction holds the write lock (BEGIN IMMEDIATE), so
        # no one else takes an id meanwhile, whichever connection reads these. An
        # AUTOINCREMENT table never reuses the id of a deleted row: start past both the
        # highest row and its counter.
        if self.next is None:
            qn = connection.ops.quote_name
            with connection.cursor() as cursor:
                # Names from the model's metadata, quoted.
                cursor.execute(f"SELECT max({qn(meta.pk.column)}) FROM {qn(meta.db_table)}")  # noqa: S608
                highest = cursor.fetchone()[0] or 0
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [meta.db_table])
                found = cursor.fetchone()
            self.next = max(highest, found[0] if found else 0) + 1
        ids = list(range(self.next, self.next + n))
        self.next += n
        return ids


class Importer:
    """What both kinds of import share: the run, its user and scope, the errors, the
    counts and the chunked loop over the file's rows."""

    def __init__(self, run, user, problems):
        self.run = run
        self.user = user
        self.scope = scope_for(user)
        self.problems = problems
        self.key = run.key_column or "name"
        self.created = self.updated = self.unchanged = self.processed = 0
        self.writing = True  # off after the first error: the rest is only checked
        self.read_all = False
        self.published = float("-inf")  # when the progress was last published

    def error(self, line, column, message):
        self.problems.add(line, column, message)
        self.writing = False

    def run_file(self, csvfile):
        self.check_header(csvfile.header)
        if self.problems:
            return
        self.width = len(csvfile.header)
        chunk = []
        for line, cells in csvfile.rows():
            if len(cells) > self.width and not any(c.strip() for c in cells[self.width :]):
                cells = cells[: self.width]  # empty cells after the last column
            if len(cells) != self.width:
                self.error(
                    line,
                    "",
                    _("This line has %(n)s cells; the header names %(m)s columns.")
                    % {"n": len(cells), "m": self.width},
                )
                self.processed += 1
                if self.problems.full:
                    return
                continue
            chunk.append((line, cells))
            if len(chunk) == CHUNK:
                self._chunk(chunk)
                chunk = []
                if self.problems.full:
                    return
        if chunk:
            self._chunk(chunk)
        self.read_all = True

    def _chunk(self, chunk):
        self.handle_chunk(chunk)
        self.processed += len(chunk)
        now = time.monotonic()
        if now - self.published >= PROGRESS_EVERY:
            self.published = now
            publish_progress(self.run.pk, self.processed, self.run.total_rows)

    def check_header(self, header):
        raise NotImplementedError

    def handle_chunk(self, chunk):
        raise NotImplementedError

    @contextmanager
    def applying(self):
        """The block the whole file is applied in: one transaction."""
        with transaction.atomic():
            yield

    def write(self, fn, *args):
        """Make one of the import's writes (in its transaction)."""
        fn(*args)

    def finish(self):
        """After the last chunk, inside the transaction."""
        if self.writing and (self.created or self.updated):
            self.write(graph_reload)

    def check_columns(self, header, known, required):
        """Unknown, repeated and missing columns, as errors on line 1."""
        seen = set()
        for name in header:
            if not name:
                self.error(1, "", _("A column has no name."))
            elif name in seen:
                self.error(1, name, _("The column “%(name)s” appears twice.") % {"name": name})
            elif not known(name):
                self.error(
                    1, name, _("“%(name)s” is not a column of this import.") % {"name": name}
                )
            seen.add(name)
        for name in required:
            if name not in seen:
                self.error(
                    1,
                    name,
                    _(
                        "The column “%(name)s” is missing: the first line must name the "
                        "columns, and this import needs %(required)s."
                    )
                    % {"name": name, "required": ", ".join(required)},
                )


def graph_reload():
    GraphEvent.objects.create(op=GraphEvent.RELOAD)


# --- progress -------------------------------------------------------------------------
def _progress_key(run_id):
    return f"accord:cmdb-import-progress:{run_id}"


def publish_progress(run_id, processed, total):
    try:
        HUEY.put(_progress_key(run_id), (processed, total))
    except Exception:  # noqa: BLE001 - progress is a courtesy; the import goes on
        log.warning("could not publish the progress of import %s", run_id, exc_info=True)


def forget_progress(run_id):
    try:
        HUEY.delete(_progress_key(run_id))
    except Exception:  # noqa: BLE001 - a stale figure is ignored once the run ends
        log.warning("could not clear the progress of import %s", run_id, exc_info=True)


def progress(run):
    """(processed, total) of a run: live figures while it runs."""
    if run.status == RunStatus.RUNNING:
        try:
            live = HUEY.get(_progress_key(run.pk), peek=True)
        except Exception:  # noqa: BLE001 - fall back to the figures on the row
            live = None
        if live:
            processed, total = live
            return processed, max(total, processed)
    return run.processed, max(run.total_rows, run.processed)


# --- starting and running -------------------------------------------------------------
def start_import(user, upload, kind, key_column):
    """Record a run for an uploaded file and queue it for the worker (after commit)."""
    if not may_import(user):
        raise PermissionDenied
    run = ImportRun(
        kind=kind,
        key_column=key_column,
        filename=(upload.name or "import.csv").rsplit("/", 1)[-1][:200],
        created_by=user,
    )
    run.file.save(run.filename, upload, save=False)
    run.save()
    transaction.on_commit(lambda: import_job(run.pk))
    return run


@db_task(retries=2, retry_delay=30, context=True)
def import_job(run_id, task=None):
    """The worker's job: apply a queued run (safe to repeat: a finished run is left
    alone, a retried one starts again from a clean slate)."""
    last_try = task is None or not task.retries
    run_import(run_id, last_try=last_try)


def run_import(run_id, *, last_try=True):
    run = ImportRun.objects.select_related("created_by").filter(pk=run_id).first()
    if run is None or run.status != RunStatus.QUEUED:
        return run
    try:
        with run.file.open("rb") as fh:
            total = count_rows(fh)
    except OSError:
        ImportRun.objects.filter(pk=run_id).update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            errors=[{"line": None, "column": "", "message": _("The uploaded file is gone.")}],
        )
        return run
    claimed = ImportRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), total_rows=total, processed=0
    )
    if not claimed:
        return run
    run.status, run.total_rows = RunStatus.RUNNING, total
    publish_progress(run.pk, 0, total)
    problems = Problems()
    try:
        with acting_as(run.created_by, "job:cmdb-import"), _cyclic_gc_paused():
            importer = _apply(run, problems)
    except (OperationalError, InterfaceError):
        # The database was busy or went away: nothing was written; try again later.
        if not last_try:
            ImportRun.objects.filter(pk=run_id).update(status=RunStatus.QUEUED)
            raise
        log.exception("import %s failed", run_id)
        problems.add(None, "", _("The database could not complete the import; try again."))
        importer = None
    except Exception:
        log.exception("import %s failed", run_id)
        problems.add(None, "", _("The import stopped on an unexpected error; nothing was saved."))
        importer = None
    finally:
        forget_progress(run_id)
    ok = importer is not None and not problems
    # Rows are checked in stages, a chunk at a time: list the errors in file order.
    problems.items.sort(key=lambda e: (e["line"] is not None, e["line"] or 0))
    fields = {
        "status": RunStatus.DONE if ok else RunStatus.FAILED,
        "finished_at": timezone.now(),
        "errors": problems.items,
        "processed": importer.processed if importer else 0,
        "created_count": importer.created if ok else 0,
        "updated_count": importer.updated if ok else 0,
        "unchanged_count": importer.unchanged if ok else 0,
    }
    if importer is not None and importer.read_all:
        fields["total_rows"] = importer.processed
    ImportRun.objects.filter(pk=run_id).update(**fields)
    for name, value in fields.items():
        setattr(run, name, value)
    return run


_gc_lock = threading.Lock()
_gc_pauses = {"count": 0, "was_enabled": True}


@contextmanager
def _cyclic_gc_paused():
    """Python's cycle collector paused while a file is applied. An import creates a
    few container objects per row, which trigger collections that each walk the whole
    heap (measured: a quarter of the run's time at 100,000 rows); memory is freed by
    reference counting meanwhile, and the collector resumes when the last import in
    the process ends."""
    with _gc_lock:
        if _gc_pauses["count"] == 0:
            _gc_pauses["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_pauses["count"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses["count"] -= 1
            if _gc_pauses["count"] == 0 and _gc_pauses["was_enabled"]:
                gc.enable()


def _apply(run, problems):
    """Read and apply the file in one transaction; returns the importer with its
    counts. Any refused row rolls everything back."""
    from .imports_cis import CIImporter
    from .imports_relationships import RelationshipImporter

    user = run.created_by
    if user is None or not may_import(user):
        problems.add(None, "", _("You may not import configuration items."))
        return None
    importer_class = CIImporter if run.kind == "cis" else RelationshipImporter
    importer = importer_class(run, user, problems)
    with run.file.open("rb") as fh:
        try:
            with importer.applying():
                importer.run_file(CsvFile(fh))
                if problems:
                    raise Rollback
                importer.finish()
        except Rollback:
            pass
        except FileProblem as exc:
            problems.add(exc.line, exc.column, exc.message)
        except IntegrityError as exc:
            log.info("import %s refused by the database: %s", run.pk, exc)
            problems.add(
                None,
                "",
                _(
                    "The file conflicts with configuration data saved while it was "
                    "imported (a name or key is now taken); nothing was saved. Import "
                    "it again."
                ),
            )
        except DatabaseError as exc:
            if isinstance(exc, OperationalError | InterfaceError):
                raise
            log.warning("import %s refused by the database: %s", run.pk, exc)
            problems.add(
                None,
                "",
                _("The database refused a value of the file; nothing was saved."),
            )
    return importer
