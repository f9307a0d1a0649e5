"""The business's customer data, as imported from its own systems (see PRODUCT.md, CSV import).

Order lines carry their order's customer and date as well: the nightly metrics read one
covering index over lines by (customer, date) instead of joining 10M lines to their orders.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models

SEARCHED = ("name", "email", "company", "external_id")  # all NOT NULL: no COALESCE needed


def search_document() -> models.Func:
    """What the lists' search box matches: UPPER(name || ' ' || email || ' ' || company || ' ' ||
    external_id). The trigram index customer_search_trgm_idx is built on this very expression, so
    a LIKE '%TERM%' on it is answered by the index, not a scan of a million rows."""
    parts: list = []
    for field in SEARCHED:
        parts += [models.F(field), models.Value(" ")]
    return models.Func(
        *parts[:-1], template="UPPER((%(expressions)s))", arg_joiner=" || ", output_field=models.TextField()
    )


class Customer(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    company = models.CharField(max_length=200, blank=True)
    signed_up_on = models.DateField(null=True, blank=True)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_customers",
    )

    class Meta:
        ordering = ["name", "id"]
        permissions = [("import_data", "Can import customer data from CSV")]
        indexes = [
            # the lists' search box (pg_trgm: substring matches of 3+ characters)
            GinIndex(OpClass(search_document(), name="gin_trgm_ops"), name="customer_search_trgm_idx"),
            # the lists sorted by name, and by account manager then name (unique tiebreak: id)
            models.Index(fields=["name", "id"], name="customer_name_idx"),
            models.Index(fields=["account_manager", "name", "id"], name="customer_manager_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100)
    launched_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["sku"]
        indexes = [models.Index(fields=["launched_on"], name="product_launched_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Order(models.Model):
    # Unique through a constraint rather than unique=True, which would add a second (LIKE pattern)
    # index that nothing reads and every imported order must update.
    order_id = models.CharField(max_length=64)
    # Indexed by order_customer_placed_idx below; a second single-column index would only slow imports.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders", db_index=False)
    placed_at = models.DateTimeField()

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["order_id"], name="order_order_id_uniq")]
        indexes = [models.Index(fields=["customer", "-placed_at"], name="order_customer_placed_idx")]

    def __str__(self) -> str:
        return self.order_id


class OrderLine(models.Model):
    # Indexed by the (order, product) unique constraint.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    # No database constraint: PostgreSQL checks a foreign key row by row at commit, which cost about a
    # quarter of a million-line import. Lines come from the importer, which refuses an unknown sku,
    # and a product with lines cannot be deleted through Django (PROTECT).
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines", db_constraint=False)
    # Copies of the order's customer and date, kept in step by the importer. The order's own
    # foreign key already guarantees the customer exists, so the copy skips a second check per line.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="order_lines", db_index=False, db_constraint=False
    )
    placed_at = models.DateTimeField()
    quantity = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="Line total charged to the customer.")
    cost = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Line total cost to the business."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "product"], name="orderline_order_product_uniq")]
        indexes = [
            # Covering index for the nightly per-customer aggregate (PERF-NOTES.md).
            models.Index(
                fields=["customer", "placed_at"],
                include=["amount", "cost", "product"],
                name="orderline_customer_placed_idx",
            ),
        ]


class Ticket(models.Model):
    class Kind(models.TextChoices):
        COMPLAINT = "complaint"
        QUESTION = "question"
        RETURN = "return"
        OTHER = "other"

    class Outcome(models.TextChoices):
        UPHELD = "upheld"
        REJECTED = "rejected", "rejected (unfounded)"
        PENDING = "pending"

    ticket_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tickets", db_index=False)
    opened_at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    compensation = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=0,
        help_text="Money value of any discount, refund, credit or free goods given.",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(
                fields=["customer", "opened_at"],
                include=["kind", "outcome", "compensation"],
                name="ticket_customer_opened_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.ticket_id


class DataChange(models.Model):
    """A mark that some customers' source data (orders, lines, tickets, sign-up date) changed.

    Written only by database triggers on PostgreSQL (migration 0003), whatever wrote the rows: the
    importer, the admin, the ORM or plain SQL; one row per statement, with the ids of the customers
    it touched as an array (a million-line import appends two rows, not a million). The nightly
    re-tier recomputes the marked customers (and those whose metrics change with the date alone)
    instead of everyone, takes the marks it saw at its start, and deletes them in its own
    transaction. Empty `customer_ids` means everyone: a product's category or launch date changed,
    a table was truncated, or a bulk load skipped the triggers. Append-only, so a writer never
    waits on a run or on another writer. PostgreSQL only (created by the migration, not the ORM).
    """

    customer_ids = ArrayField(models.BigIntegerField(), null=True, help_text="Empty: every customer.")
    # The re-tier run that took the mark; the marks of a failed run are taken again by the next.
    run_id = models.BigIntegerField(null=True)

    class Meta:
        managed = False
        db_table = "customers_datachange"


class ImportJob(models.Model):
    """A CSV file uploaded on the Import data page, imported in the background (customers.tasks).

    The file waits in settings.IMPORT_DIR until the import has run, then is deleted. Every error of a
    rejected file is kept there as a text file for download; the first ones are kept here to show.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "waiting for a worker"
        RUNNING = "running"
        SUCCEEDED = "succeeded", "imported"
        REJECTED = "rejected", "rejected: nothing imported"
        FAILED = "failed", "failed: nothing imported"
        INTERRUPTED = "interrupted", "interrupted: nothing imported"

    FINISHED = (Status.SUCCEEDED, Status.REJECTED, Status.FAILED, Status.INTERRUPTED)

    kind = models.CharField(max_length=16)
    file_name = models.CharField(max_length=255, help_text="The name of the uploaded file.")
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of a running import.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    step = models.CharField(max_length=40, blank=True)
    bytes_read = models.PositiveBigIntegerField(default=0)
    rows_read = models.PositiveBigIntegerField(default=0)
    rows = models.PositiveBigIntegerField(default=0)
    created = models.PositiveBigIntegerField(default=0)
    updated = models.PositiveBigIntegerField(default=0)
    unchanged = models.PositiveBigIntegerField(default=0)
    error_count = models.PositiveBigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first errors, to show on the page.")
    message = models.TextField(blank=True, help_text="Why the import failed or was interrupted.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="importjob_status_idx")]

    def __str__(self) -> str:
        return f"Import {self.pk} of {self.kind} ({self.status})"

    @property
    def is_over(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent(self) -> int:
        """How much of the file has been read, 0-100."""
        return min(100, round(100 * self.bytes_read / self.size)) if self.size else 0

    @property
    def more_errors(self) -> int:
        """Errors beyond those shown on the page."""
        return max(0, self.error_count - len(self.errors))

    @property
    def duration_text(self) -> str:
        if not (self.started_at and self.finished_at):
            return ""
        seconds = (self.finished_at - self.started_at).total_seconds()
        return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
