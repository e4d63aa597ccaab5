"""The catalog's models move here from the executions app, with their rows.

State only: the tables stay as they are (db_table names the old ones) and migration
executions 0011 drops the models from the executions app's state. catalog 0002 then renames the
tables. An existing database keeps every project, member, case, suite and runner profile."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("executions", "0010_runnerprofile_unconfined_help"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Membership",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "role",
                            models.CharField(
                                choices=[
                                    ("viewer", "Viewer"),
                                    ("tester", "Tester"),
                                    ("maintainer", "Maintainer"),
                                ],
                                default="viewer",
                                max_length=20,
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="memberships",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"db_table": "executions_membership"},
                ),
                migrations.CreateModel(
                    name="Project",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=200)),
                        ("slug", models.SlugField(max_length=100, unique=True)),
                        ("description", models.TextField(blank=True)),
                        (
                            "allowed_hosts",
                            models.JSONField(
                                blank=True,
                                default=list,
                                help_text="Hosts HTTP and browser steps may reach (e.g. 'api.example.com', '*.example.com', '127.0.0.1:8000'). Loopback is always allowed.",
                            ),
                        ),
                        (
                            "max_concurrency",
                            models.PositiveIntegerField(
                                blank=True,
                                help_text="At most this many executions of the project run at once.",
                                null=True,
                                validators=[django.core.validators.MaxValueValidator(10000)],
                            ),
                        ),
                        (
                            "retention_days",
                            models.PositiveIntegerField(
                                default=90,
                                help_text="Traces and events of finished executions older than this are pruned.",
                                validators=[django.core.validators.MaxValueValidator(36500)],
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "members",
                            models.ManyToManyField(
                                related_name="projects",
                                through="catalog.Membership",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "executions_project",
                        "ordering": ["name"],
                    },
                ),
                migrations.AddField(
                    model_name="membership",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="catalog.project",
                    ),
                ),
                migrations.CreateModel(
                    name="RunnerProfile",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=100)),
                        ("description", models.TextField(blank=True)),
                        (
                            "argv",
                            models.JSONField(
                                help_text='The command as a list, e.g. ["{{ python }}", "-m", "pytest", "{{ target }}"]. {{ name }} placeholders: python, output_dir, and the allowed parameters.'
                            ),
                        ),
                        (
                            "allowed_parameters",
                            models.JSONField(
                                blank=True,
                                default=dict,
                                help_text='Parameters a step may fill in: name -> regular expression the whole value must match (empty: letters, digits and ._,:/=@+-[] with no leading \'-\'). Values stay inside the working directory unless the parameter is {"pattern": "...", "unconfined": true}.',
                            ),
                        ),
                        (
                            "working_dir",
                            models.CharField(
                                blank=True,
                                help_text="Where the command runs; relative paths start at the project's base directory.",
                                max_length=500,
                            ),
                        ),
                        (
                            "env",
                            models.JSONField(
                                blank=True,
                                default=dict,
                                help_text="Extra environment variables. The worker's own environment is not passed on.",
                            ),
                        ),
                        ("timeout_seconds", models.PositiveIntegerField(default=600)),
                        (
                            "junit_xml",
                            models.CharField(
                                blank=True,
                                help_text="Path of the JUnit XML the command writes, e.g. {{ output_dir }}/junit.xml; each test case in it becomes a result attached to a catalog case.",
                                max_length=500,
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="runner_profiles",
                                to="catalog.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "executions_runnerprofile",
                        "ordering": ["project", "name"],
                    },
                ),
                migrations.CreateModel(
                    name="TestCase",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "key",
                            models.CharField(
                                max_length=255,
                                validators=[
                                    django.core.validators.RegexValidator(
                                        "^[A-Za-z0-9][A-Za-z0-9_.:/\\-\\[\\] ]*$",
                                        "A key starts with a letter or digit and holds letters, digits, spaces and _ . : / - [ ].",
                                    )
                                ],
                            ),
                        ),
                        ("name", models.CharField(max_length=255)),
                        ("description", models.TextField(blank=True)),
                        (
                            "type",
                            models.CharField(
                                choices=[
                                    ("generic", "Generic (automated actions)"),
                                    ("bdd", "BDD (Gherkin)"),
                                    ("manual", "Manual"),
                                ],
                                default="generic",
                                max_length=10,
                            ),
                        ),
                        ("steps", models.JSONField(blank=True, default=list)),
                        (
                            "feature",
                            models.TextField(
                                blank=True, help_text="Gherkin source, for BDD cases."
                            ),
                        ),
                        (
                            "parameters",
                            models.JSONField(
                                blank=True,
                                default=dict,
                                help_text="Default run parameters ({{ name }} in steps); a suite's and a run's win.",
                            ),
                        ),
                        ("preconditions", models.TextField(blank=True)),
                        (
                            "priority",
                            models.PositiveSmallIntegerField(
                                choices=[(1, "Critical"), (2, "High"), (3, "Medium"), (4, "Low")],
                                default=3,
                            ),
                        ),
                        ("tags", models.JSONField(blank=True, default=list)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("draft", "Draft"),
                                    ("active", "Active"),
                                    ("deprecated", "Deprecated"),
                                ],
                                default="active",
                                max_length=12,
                            ),
                        ),
                        (
                            "quarantined",
                            models.BooleanField(
                                default=False,
                                help_text="A quarantined case still runs and is recorded, but does not fail its suite.",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="test_cases",
                                to="catalog.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "executions_testcase",
                        "ordering": ["project", "key"],
                    },
                ),
                migrations.CreateModel(
                    name="SuiteItem",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("order", models.PositiveIntegerField(default=0)),
                        ("skip", models.BooleanField(default=False)),
                        (
                            "case",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="suite_items",
                                to="catalog.testcase",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "executions_suiteitem",
                        "ordering": ["suite", "order", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="TestSuite",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=255)),
                        ("description", models.TextField(blank=True)),
                        ("tags", models.JSONField(blank=True, default=list)),
                        (
                            "parameters",
                            models.JSONField(
                                blank=True,
                                default=dict,
                                help_text="Default run parameters for its cases; a run's own parameters win.",
                            ),
                        ),
                        (
                            "max_parallel",
                            models.PositiveSmallIntegerField(
                                default=1,
                                help_text="How many of its cases may run at the same time.",
                            ),
                        ),
                        (
                            "fail_fast",
                            models.BooleanField(
                                default=False,
                                help_text="Cancel the remaining cases as soon as one fails.",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "cases",
                            models.ManyToManyField(
                                related_name="suites",
                                through="catalog.SuiteItem",
                                to="catalog.testcase",
                            ),
                        ),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="test_suites",
                                to="catalog.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "executions_testsuite",
                        "ordering": ["project", "name"],
                    },
                ),
                migrations.AddField(
                    model_name="suiteitem",
                    name="suite",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="items",
                        to="catalog.testsuite",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="membership",
                    constraint=models.UniqueConstraint(
                        fields=("project", "user"), name="one_membership_per_user"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="runnerprofile",
                    constraint=models.UniqueConstraint(
                        fields=("project", "name"), name="runner_profile_name_unique_per_project"
                    ),
                ),
                migrations.AddIndex(
                    model_name="testcase",
                    index=models.Index(
                        fields=["project", "status", "type"], name="executions__project_df0c4b_idx"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="testcase",
                    constraint=models.UniqueConstraint(
                        fields=("project", "key"), name="case_key_unique_per_project"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="testsuite",
                    constraint=models.UniqueConstraint(
                        fields=("project", "name"), name="suite_name_unique_per_project"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="testsuite",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("max_parallel__gte", 1)),
                        name="suite_max_parallel_positive",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="suiteitem",
                    constraint=models.UniqueConstraint(
                        fields=("suite", "case"), name="case_once_per_suite"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
