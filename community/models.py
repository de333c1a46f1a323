from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property


class AppendOnly(Exception):
    """A change to an append-only log (the access audit log) was attempted: a programming error."""


class UserManager(BaseUserManager):
    """Users sign in with their e-mail address; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("role", User.Role.ADMIN)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    class Role(models.TextChoices):
        VOLUNTEER = "volunteer", "Volunteer"
        RESEARCHER = "researcher", "Researcher"
        MODERATOR = "moderator", "Moderator"
        ADMIN = "admin", "Admin"

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("e-mail address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VOLUNTEER)
    languages = models.JSONField(
        default=list, blank=True, help_text="Languages (ISO 639-1) the volunteer works in; empty means any."
    )
    is_on_leaderboards = models.BooleanField(
        default=True, help_text="Shown on contributor leaderboards (volunteers can opt out)."
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.display_name or self.email

    @property
    def is_moderator(self) -> bool:
        return self.role in (self.Role.MODERATOR, self.Role.ADMIN)

    @property
    def is_platform_admin(self) -> bool:
        return self.role == self.Role.ADMIN or self.is_superuser

    @cached_property
    def moderates_anything(self) -> bool:
        """Whether the moderation console has anything for this person: platform moderators and
        admins, and members who moderate a community (their membership's role). For the header."""
        if self.is_moderator or self.is_platform_admin:
            return True
        return self.memberships.filter(role__in=Membership.MODERATING_ROLES).exists()


class Community(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    language = models.CharField(max_length=16, default="en", help_text="Main language (BCP 47 code).")
    licence_name = models.CharField(max_length=60, default="CC BY 4.0")
    licence_url = models.URLField(default="https://creativecommons.org/licenses/by/4.0/")
    licence_version = models.PositiveIntegerField(
        default=1,
        help_text="Raise it when the data terms change: members accept the new version before contributing again.",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="communities")
    topics = models.JSONField(
        default=list, blank=True, help_text='Topics volunteers can pick, as a list of names, e.g. ["Health", "Law"].'
    )
    responses_per_item = models.PositiveSmallIntegerField(
        default=3, help_text="Independent responses each task item needs before it stops being served."
    )
    gold_rate = models.FloatField(default=0.1, help_text="Share of served tasks that are gold items (0 to 1).")
    task_weights = models.JSONField(
        default=dict,
        blank=True,
        help_text="Relative weight of each task kind in the queue; missing kinds use the platform defaults.",
    )
    has_synthetic_data = models.BooleanField(
        default=False,
        help_text="Its pool holds synthetic data (manage.py demo_data): its pages and releases say so.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "communities"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's place in a community, with their acceptance of its data licence and their role in it."""

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        MODERATOR = "moderator", "Moderator"
        ADMIN = "admin", "Community admin"
        OWNER = "owner", "Owner"

    # Who moderates the community (community/permissions.py); admins and the owner also govern it.
    MODERATING_ROLES = (Role.MODERATOR, Role.ADMIN, Role.OWNER)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="memberships")
    joined_at = models.DateTimeField(auto_now_add=True)
    licence_name = models.CharField(max_length=60, blank=True)
    licence_version = models.PositiveIntegerField(null=True, blank=True)
    licence_accepted_at = models.DateTimeField(null=True, blank=True)
    topics = models.JSONField(default=list, blank=True, help_text="Topics the member works on; empty means any.")
    role = models.CharField(
        max_length=20,
        choices=Role.choices,
        default=Role.MEMBER,
        help_text="Moderators moderate this community; its admins and owner also govern it (policies).",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "community"], name="membership_unique_user_community")]

    def __str__(self) -> str:
        return f"{self.user} in {self.community}"

    @property
    def is_moderator(self) -> bool:
        """Moderates this community: its moderators, admins and owner (community/permissions.py)."""
        return self.role in self.MODERATING_ROLES

    @property
    def has_current_licence(self) -> bool:
        return (
            self.licence_accepted_at is not None
            and self.licence_version == self.community.licence_version
            and self.licence_name == self.community.licence_name
        )


class ErasureRequest(models.Model):
    """A person's request to erase their account: kept (without personal data) as the record
    that their items left the live pool and must stay out of every later release."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="erasure_requests"
    )
    user_pk = models.PositiveBigIntegerField(help_text="The erased account's id, for excluding it from releases.")
    requested_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    items_removed = models.JSONField(default=dict, blank=True, help_text="How many items of each kind were removed.")

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"Erasure of account {self.user_pk}"


class Sanction(models.Model):
    """A moderator's measure against a person: a warning, a suspension until a time, or a ban.

    `community` empty means site-wide (only admins impose those). A suspension or ban is in
    force while it is not lifted and (for a suspension) its end is in the future; while one is in
    force the person cannot contribute to the community it covers (`sanction_check`).
    Sanctions are imposed and lifted only through the moderation services, which write the audit
    log (`feedback.moderation.services`).
    """

    class Kind(models.TextChoices):
        WARN = "warn", "Warning"
        SUSPEND = "suspend", "Suspension"
        BAN = "ban", "Ban"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sanctions")
    community = models.ForeignKey(
        Community,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sanctions",
        help_text="Empty: site-wide.",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    until = models.DateTimeField(null=True, blank=True, help_text="When a suspension ends.")
    reason = models.TextField()
    imposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="sanctions_imposed"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="sanctions_lifted"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="suspend", until__isnull=False) | (~Q(kind="suspend") & Q(until__isnull=True))),
                name="sanction_until_iff_suspension",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="sanction_has_reason"),
        ]
        indexes = [models.Index(fields=["user", "lifted_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.user} in {self.community or 'every community'}"

    @property
    def is_restriction(self) -> bool:
        """A suspension or a ban (a warning restricts nothing)."""
        return self.kind in (self.Kind.SUSPEND, self.Kind.BAN)

    @property
    def is_in_force(self) -> bool:
        """A suspension or ban that is not lifted and (for a suspension) not over."""
        return self.is_restriction and self.lifted_at is None and (self.until is None or self.until > timezone.now())


class Appeal(models.Model):
    """A sanctioned person's one request to lift a suspension or a ban, decided by a moderator."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a moderator"
        GRANTED = "granted", "Granted: the sanction was lifted"
        REJECTED = "rejected", "Rejected: the sanction stays"

    sanction = models.OneToOneField(Sanction, on_delete=models.CASCADE, related_name="appeal")
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="appeals_decided"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(status="open", decided_at__isnull=True) | (~Q(status="open") & Q(decided_at__isnull=False))
                ),
                name="appeal_decided_iff_closed",
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Appeal against {self.sanction}"


class ResearcherApplication(models.Model):
    """A person's request for researcher access (reading the live pool through the API), and
    the admin's decision on it. One pending application per person; after a refusal they may
    apply again. Written only by `community.services` (`researcher_application_submit`,
    `researcher_application_decide`), which also grant the role and write the access audit log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for an admin"
        APPROVED = "approved", "Approved: you have researcher access"
        REFUSED = "refused", "Refused"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="researcher_applications")
    purpose = models.TextField(help_text="What the applicant wants to do with the live pool.")
    affiliation = models.CharField(max_length=200, help_text="University, lab, company, or “independent”.")
    terms_version = models.PositiveIntegerField(help_text="The version of the researcher data terms agreed to.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="researcher_applications_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status="pending"),
                name="researcher_application_one_pending_per_user",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="pending", decided_at__isnull=True) | (~Q(status="pending") & Q(decided_at__isnull=False))
                ),
                name="researcher_application_decided_iff_closed",
            ),
            models.CheckConstraint(
                condition=~Q(purpose="") & ~Q(affiliation=""), name="researcher_application_has_purpose"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Researcher application of {self.user}"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class AccessAuditEntryQuerySet(models.QuerySet):
    """Reads only: `update` and `delete` refuse (as the moderation audit log's do)."""

    def update(self, **kwargs):
        raise AppendOnly("The access audit log is append-only: entries cannot be changed.")

    def delete(self):
        raise AppendOnly("The access audit log is append-only: entries cannot be deleted.")

    def _raw_delete(self, using):
        raise AppendOnly("The access audit log is append-only: entries cannot be deleted.")


class AccessAuditEntry(models.Model):
    """One decision about a person's access to the platform: who took it, about whom, why, and
    the role before and after. Append-only.

    It lives here, not in the moderation audit log (`feedback.AuditEntry`), because roles are
    `community`'s and `community` imports nothing from `feedback`. References are plain ids (no
    database constraint, nothing cascades), so erasing the person never changes an entry.
    """

    class Action(models.TextChoices):
        RESEARCHER_APPROVE = "researcher_approve", "Approved researcher access"
        RESEARCHER_REFUSE = "researcher_refuse", "Refused researcher access"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        help_text="The person the decision concerns.",
    )
    action = models.CharField(max_length=30, choices=Action.choices)
    application_id = models.BigIntegerField(help_text="The researcher application decided.")
    reason = models.TextField()
    role_before = models.CharField(max_length=20)
    role_after = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccessAuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "access audit entries"
        indexes = [models.Index(fields=["subject", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} (application {self.application_id})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly("The access audit log is append-only: entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("The access audit log is append-only: entries cannot be deleted.")
