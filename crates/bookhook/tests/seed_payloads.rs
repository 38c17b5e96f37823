//! Every payload under `fixtures/payloads` parses into the right typed
//! variant, normalized kind, idempotency key and appointment fields.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bookhook::provider::{calendence, decoda, eagenda, moncreneau, orufy};
use bookhook::{Delivery, Event, Kind, Provider, endpoint::NoHeaders, event::Timestamp};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/payloads")
}

fn load(provider: Provider, file: &str) -> Delivery {
    let path = fixtures_dir().join(provider.as_str()).join(file);
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Delivery::parse(provider, &NoHeaders, body.into()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The appointment fields a fixture must produce.
struct Appt {
    id: &'static str,
    status: &'static str,
    starts_at: &'static str,
    ends_at: Option<&'static str>,
    name: Option<&'static str>,
    email: Option<&'static str>,
    phone: Option<&'static str>,
    location: Option<&'static str>,
}

struct Case {
    provider: Provider,
    file: &'static str,
    variant: fn(&Event) -> bool,
    event_type: &'static str,
    kind: Kind,
    key: &'static str,
    occurred_at: &'static str,
    appointment: Option<Appt>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            provider: Provider::Eagenda,
            file: "appointment.created.json",
            variant: |e| matches!(e, Event::Eagenda(eagenda::Event::AppointmentCreated(d)) if d.search_code.as_deref() == Some("AGD-2026-001234")),
            event_type: "appointment.created",
            kind: Kind::Created,
            key: r#"["appointment.created","apt12345-1234-5678-9abc-def012345678","2026-06-04T14:30:00-03:00"]"#,
            occurred_at: "2026-06-04T14:30:00-03:00",
            appointment: Some(Appt {
                id: "apt12345-1234-5678-9abc-def012345678",
                status: "CONFIRMED",
                starts_at: "2026-06-10T09:00:00-03:00",
                ends_at: None,
                name: Some("John Smith"),
                email: Some("john@example.com"),
                phone: None,
                location: Some("Dr. Silva's Office"),
            }),
        },
        Case {
            provider: Provider::Moncreneau,
            file: "appointment.created.json",
            variant: |e| {
                matches!(e, Event::Moncreneau(moncreneau::Event::Created(o))
                if o.department.as_ref().and_then(|d| d.organization.as_ref()).and_then(|o| o.name.as_deref()) == Some("Ministry of Interior")
                && o.credits_used == Some(1))
            },
            event_type: "appointment.created",
            kind: Kind::Created,
            key: "evt_abc123",
            occurred_at: "2026-01-21T14:30:00+00:00",
            appointment: Some(Appt {
                id: "12345",
                status: "SCHEDULED",
                starts_at: "2026-01-25T14:30:00",
                ends_at: None,
                name: Some("Jean Dupont"),
                email: Some("jean.dupont@example.gn"),
                phone: Some("+224621234567"),
                location: Some("Passport Service"),
            }),
        },
        Case {
            provider: Provider::Moncreneau,
            file: "appointment.updated.json",
            variant: |e| {
                matches!(e, Event::Moncreneau(moncreneau::Event::Updated(o))
                if o.changes.get("dateTime").is_some_and(|c| c.from == "2026-01-25T14:30:00" && c.to == "2026-01-26T10:00:00"))
            },
            event_type: "appointment.updated",
            kind: Kind::Updated,
            key: "evt_def456",
            occurred_at: "2026-01-22T10:15:00+00:00",
            appointment: Some(Appt {
                id: "12345",
                status: "SCHEDULED",
                starts_at: "2026-01-26T10:00:00",
                ends_at: None,
                name: Some("Jean Dupont"),
                email: None,
                phone: Some("+224621234567"),
                location: None,
            }),
        },
        Case {
            provider: Provider::Moncreneau,
            file: "appointment.cancelled.json",
            variant: |e| {
                matches!(e, Event::Moncreneau(moncreneau::Event::Cancelled(o))
                if o.cancel_reason.as_deref() == Some("Last minute impediment") && o.credits_refunded == Some(1))
            },
            event_type: "appointment.cancelled",
            kind: Kind::Cancelled,
            key: "evt_ghi789",
            occurred_at: "2026-01-23T16:45:00+00:00",
            appointment: Some(Appt {
                id: "12345",
                status: "CANCELLED",
                starts_at: "2026-01-25T14:30:00",
                ends_at: None,
                name: Some("Jean Dupont"),
                email: None,
                phone: Some("+224621234567"),
                location: None,
            }),
        },
        Case {
            provider: Provider::Moncreneau,
            file: "appointment.validated.json",
            variant: |e| {
                matches!(e, Event::Moncreneau(moncreneau::Event::Validated(o))
                if o.validated_by.as_ref().and_then(|a| a.id.as_deref()) == Some("42"))
            },
            event_type: "appointment.validated",
            kind: Kind::CheckedIn,
            key: "evt_jkl012",
            occurred_at: "2026-01-25T14:35:00+00:00",
            appointment: Some(Appt {
                id: "12345",
                status: "VALIDATED",
                starts_at: "2026-01-25T14:30:00",
                ends_at: None,
                name: Some("Jean Dupont"),
                email: None,
                phone: Some("+224621234567"),
                location: None,
            }),
        },
        Case {
            provider: Provider::Moncreneau,
            file: "appointment.completed.json",
            variant: |e| {
                matches!(e, Event::Moncreneau(moncreneau::Event::Completed(o))
                if o.notes.as_deref() == Some("Document issued"))
            },
            event_type: "appointment.completed",
            kind: Kind::Completed,
            key: "evt_mno345",
            occurred_at: "2026-01-25T15:00:00+00:00",
            appointment: Some(Appt {
                id: "12345",
                status: "COMPLETED",
                starts_at: "2026-01-25T14:30:00",
                ends_at: Some("2026-01-25T15:00:00"),
                name: Some("Jean Dupont"),
                email: None,
                phone: Some("+224621234567"),
                location: None,
            }),
        },
        Case {
            provider: Provider::Calendence,
            file: "booking.created.json",
            variant: |e| {
                matches!(e, Event::Calendence(calendence::Event::BookingCreated(b))
                if b.service.as_ref().and_then(|s| s.name.as_deref()) == Some("Express Wash"))
            },
            event_type: "booking.created",
            kind: Kind::Created,
            key: r#"["booking.created","booking-uuid","2026-03-24T14:30:00+00:00"]"#,
            occurred_at: "2026-03-24T14:30:00+00:00",
            appointment: Some(Appt {
                id: "booking-uuid",
                status: "confirmed",
                starts_at: "2026-03-25T14:00:00+00:00",
                ends_at: Some("2026-03-25T14:30:00+00:00"),
                name: Some("Jane Doe"),
                email: Some("jane@example.com"),
                phone: None,
                location: Some("Main Shop"),
            }),
        },
        Case {
            provider: Provider::Orufy,
            file: "BOOK.json",
            variant: |e| {
                matches!(e, Event::Orufy(orufy::Event::Book(m))
                if m.payment.as_ref().is_some_and(|p| p.amount == Some(25.0) && p.currency_code.as_deref() == Some("USD"))
                && m.meet_type.as_deref() == Some("SOLO"))
            },
            event_type: "BOOK",
            kind: Kind::Created,
            key: r#"["BOOK","6650f1c2a9d3e40012ab34cd","2026-06-20T09:15:05.000Z"]"#,
            occurred_at: "2026-06-20T09:15:05+00:00",
            appointment: Some(Appt {
                id: "6650f1c2a9d3e40012ab34cd",
                status: "ACTIVE",
                starts_at: "2026-07-01T10:00:00+00:00",
                ends_at: Some("2026-07-01T10:30:00+00:00"),
                name: Some("Priya Sharma"),
                email: Some("priya@example.com"),
                phone: Some("+919800000000"),
                location: None,
            }),
        },
        Case {
            provider: Provider::Orufy,
            file: "CANCEL.json",
            variant: |e| {
                matches!(e, Event::Orufy(orufy::Event::Cancel(m))
                if m.cancellation.as_ref().is_some_and(|c| c.reason.as_deref() == Some("Travelling that week")
                    && c.other.get("cancelledBy").is_some_and(|v| v == "ATTENDEE")))
            },
            event_type: "CANCEL",
            kind: Kind::Cancelled,
            key: r#"["CANCEL","6650f1c2a9d3e40012ab34cd","2026-06-28T16:40:00.000Z"]"#,
            occurred_at: "2026-06-28T16:40:00+00:00",
            appointment: Some(Appt {
                id: "6650f1c2a9d3e40012ab34cd",
                status: "CANCELLED",
                starts_at: "2026-07-01T10:00:00+00:00",
                ends_at: Some("2026-07-01T10:30:00+00:00"),
                name: Some("Priya Sharma"),
                email: Some("priya@example.com"),
                phone: None,
                location: None,
            }),
        },
        Case {
            provider: Provider::Orufy,
            file: "RESCHEDULE.json",
            variant: |e| {
                matches!(e, Event::Orufy(orufy::Event::Reschedule(m))
                if m.prev_meet_id.as_deref() == Some("6650f1c2a9d3e40012ab34cd")
                && m.reschedule.as_ref().is_some_and(|r| r.reason.as_deref() == Some("Host unavailable")))
            },
            event_type: "RESCHEDULE",
            kind: Kind::Rescheduled,
            key: r#"["RESCHEDULE","6658aa10b7c1d20013cd5678","2026-06-29T08:05:00.000Z"]"#,
            occurred_at: "2026-06-29T08:05:00+00:00",
            appointment: Some(Appt {
                id: "6658aa10b7c1d20013cd5678",
                status: "ACTIVE",
                starts_at: "2026-07-03T14:30:00+00:00",
                ends_at: Some("2026-07-03T15:15:00+00:00"),
                name: Some("Priya Sharma"),
                email: Some("priya@example.com"),
                phone: None,
                location: None,
            }),
        },
        Case {
            provider: Provider::Orufy,
            file: "NO_SHOW.json",
            variant: |e| matches!(e, Event::Orufy(orufy::Event::NoShow(m)) if m.mark_as_no_show == true),
            event_type: "NO_SHOW",
            kind: Kind::NoShow,
            key: r#"["NO_SHOW","6650f1c2a9d3e40012ab34cd","2026-07-01T10:20:00.000Z"]"#,
            occurred_at: "2026-07-01T10:20:00+00:00",
            appointment: Some(Appt {
                id: "6650f1c2a9d3e40012ab34cd",
                status: "ACTIVE",
                starts_at: "2026-07-01T10:00:00+00:00",
                ends_at: Some("2026-07-01T10:30:00+00:00"),
                name: Some("Priya Sharma"),
                email: Some("priya@example.com"),
                phone: None,
                location: None,
            }),
        },
        Case {
            provider: Provider::Decoda,
            file: "PAYMENT_CREATED.json",
            variant: |e| {
                matches!(e, Event::Decoda(decoda::Event::Payment(decoda::EventType::PaymentCreated, p))
                if p.amount_cents == Some(12500) && p.charge_id.as_deref() == Some("ch_01HZX3K7MM")
                && p.payment_method_id.as_deref() == Some("pm_01HZ9PM001"))
            },
            event_type: "PAYMENT_CREATED",
            kind: Kind::Other,
            key: "alert_01HZX3K9Q4PAY",
            occurred_at: "2024-05-01T12:00:03.512+00:00",
            appointment: None,
        },
        Case {
            provider: Provider::Decoda,
            file: "APPOINTMENT_SCHEDULED.json",
            variant: |e| {
                matches!(e, Event::Decoda(decoda::Event::Appointment(decoda::EventType::AppointmentScheduled, a))
                if a.provider_id.as_deref() == Some("prov_01HZ9DR001"))
            },
            event_type: "APPOINTMENT_SCHEDULED",
            kind: Kind::Created,
            key: "alert_01HZY0APPT1",
            occurred_at: "2024-05-02T09:10:00-04:00",
            appointment: Some(Appt {
                id: "appt_01HZY0A001",
                status: "SCHEDULED",
                starts_at: "2024-05-09T10:00:00-04:00",
                ends_at: Some("2024-05-09T10:45:00-04:00"),
                name: Some("Maria Lopez"),
                email: Some("maria.lopez@example.com"),
                phone: Some("+15555550123"),
                location: Some("Downtown Clinic"),
            }),
        },
        Case {
            provider: Provider::Decoda,
            file: "SELF_SCHEDULED_APPOINTMENT.json",
            variant: |e| {
                matches!(e, Event::Decoda(decoda::Event::Appointment(decoda::EventType::SelfScheduledAppointment, a))
                if a.patient_id.as_deref() == Some("pat_01HZ9FGHIJ"))
            },
            event_type: "SELF_SCHEDULED_APPOINTMENT",
            kind: Kind::Created,
            key: "alert_01HZY1SELF1",
            occurred_at: "2024-05-03T18:22:41+00:00",
            appointment: Some(Appt {
                id: "appt_01HZY1S002",
                status: "PENDING",
                starts_at: "2024-05-10T14:30:00-07:00",
                ends_at: Some("2024-05-10T15:00:00-07:00"),
                name: Some("Sam Chen"),
                email: Some("sam.chen@example.com"),
                phone: Some("+15555550188"),
                location: Some("Westside Office"),
            }),
        },
        Case {
            provider: Provider::Decoda,
            file: "APPOINTMENT_CANCELLED.json",
            variant: |e| {
                matches!(
                    e,
                    Event::Decoda(decoda::Event::Appointment(
                        decoda::EventType::AppointmentCancelled,
                        _
                    ))
                )
            },
            event_type: "APPOINTMENT_CANCELLED",
            kind: Kind::Cancelled,
            key: "alert_01HZY2CANC1",
            occurred_at: "2024-05-04T08:00:00-04:00",
            appointment: Some(Appt {
                id: "appt_01HZY0A001",
                status: "CANCELLED",
                starts_at: "2024-05-09T10:00:00-04:00",
                ends_at: Some("2024-05-09T10:45:00-04:00"),
                name: Some("Maria Lopez"),
                email: Some("maria.lopez@example.com"),
                phone: None,
                location: Some("Downtown Clinic"),
            }),
        },
        Case {
            provider: Provider::Decoda,
            file: "APPOINTMENT_RESCHEDULED.json",
            variant: |e| {
                matches!(
                    e,
                    Event::Decoda(decoda::Event::Appointment(
                        decoda::EventType::AppointmentRescheduled,
                        _
                    ))
                )
            },
            event_type: "APPOINTMENT_RESCHEDULED",
            kind: Kind::Rescheduled,
            key: "alert_01HZY3RESC1",
            occurred_at: "2024-05-05T11:30:00-04:00",
            appointment: Some(Appt {
                id: "appt_01HZY0A001",
                status: "SCHEDULED",
                starts_at: "2024-05-16T10:00:00-04:00",
                ends_at: Some("2024-05-16T10:45:00-04:00"),
                name: Some("Maria Lopez"),
                email: Some("maria.lopez@example.com"),
                phone: None,
                location: Some("Downtown Clinic"),
            }),
        },
        Case {
            provider: Provider::Decoda,
            file: "APPOINTMENT_REQUEST.json",
            variant: |e| {
                matches!(e, Event::Decoda(decoda::Event::Appointment(decoda::EventType::AppointmentRequest, a))
                if a.notes.as_deref() == Some("Prefers mornings"))
            },
            event_type: "APPOINTMENT_REQUEST",
            kind: Kind::Requested,
            key: "alert_01HZY4REQ01",
            occurred_at: "2024-05-06T20:15:00+00:00",
            appointment: Some(Appt {
                id: "apptreq_01HZY4R001",
                status: "REQUESTED",
                starts_at: "2024-05-20T09:00:00-04:00",
                ends_at: None,
                name: Some("Noah Kim"),
                email: Some("noah.kim@example.com"),
                phone: Some("+15555550199"),
                location: None,
            }),
        },
        Case {
            provider: Provider::Decoda,
            file: "CALL_RECIEVED.json",
            variant: |e| {
                matches!(e, Event::Decoda(decoda::Event::Record(decoda::EventType::CallReceived, data))
                if data["durationSeconds"] == 184)
            },
            event_type: "CALL_RECEIVED",
            kind: Kind::Other,
            key: "alert_01HZY5CALL1",
            occurred_at: "2024-05-07T15:45:10+00:00",
            appointment: None,
        },
        Case {
            provider: Provider::Decoda,
            file: "PATIENT_CREATED.json",
            variant: |e| {
                matches!(e, Event::Decoda(decoda::Event::Record(decoda::EventType::PatientCreated, data))
                if data["email"] == "lena.park@example.com")
            },
            event_type: "PATIENT_CREATED",
            kind: Kind::Other,
            key: "alert_01HZY6PAT01",
            occurred_at: "2024-05-08T10:00:00+00:00",
            appointment: None,
        },
    ]
}

fn shown(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

#[test]
fn every_fixture_parses_into_its_variant_kind_and_appointment() {
    for case in cases() {
        let at = format!("{}/{}", case.provider, case.file);
        let delivery = load(case.provider, case.file);
        assert_eq!(delivery.provider(), case.provider, "{at}");
        assert!(
            (case.variant)(delivery.event()),
            "{at}: {:?}",
            delivery.event()
        );
        assert_eq!(delivery.event_type(), case.event_type, "{at}");
        assert_eq!(delivery.kind(), case.kind, "{at}");
        assert_eq!(delivery.idempotency_key(), case.key, "{at}");
        assert_eq!(
            shown(delivery.occurred_at()).as_deref(),
            Some(case.occurred_at),
            "{at}"
        );

        let Some(expected) = &case.appointment else {
            assert_eq!(delivery.appointment(), None, "{at}");
            assert_eq!(delivery.appointment_id(), None, "{at}");
            continue;
        };
        let appointment = delivery
            .appointment()
            .unwrap_or_else(|| panic!("{at}: no appointment"));
        assert_eq!(appointment.provider, case.provider, "{at}");
        assert_eq!(appointment.event_type, case.event_type, "{at}");
        assert_eq!(appointment.kind, case.kind, "{at}");
        assert_eq!(appointment.id, expected.id, "{at}");
        assert_eq!(delivery.appointment_id(), Some(expected.id), "{at}");
        assert_eq!(appointment.status.as_deref(), Some(expected.status), "{at}");
        assert_eq!(
            shown(appointment.starts_at).as_deref(),
            Some(expected.starts_at),
            "{at}"
        );
        assert_eq!(
            shown(appointment.ends_at).as_deref(),
            expected.ends_at,
            "{at}"
        );
        assert_eq!(appointment.attendee.name.as_deref(), expected.name, "{at}");
        assert_eq!(
            appointment.attendee.email.as_deref(),
            expected.email,
            "{at}"
        );
        assert_eq!(
            appointment.attendee.phone.as_deref(),
            expected.phone,
            "{at}"
        );
        assert_eq!(appointment.location.as_deref(), expected.location, "{at}");
    }
}

#[test]
fn every_fixture_file_has_a_case() {
    let covered: BTreeSet<String> = cases()
        .iter()
        .map(|c| format!("{}/{}", c.provider, c.file))
        .collect();
    let mut found = BTreeSet::new();
    for dir in std::fs::read_dir(fixtures_dir()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "json") {
                let provider = dir.file_name().unwrap().to_string_lossy().into_owned();
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                found.insert(format!("{provider}/{name}"));
            }
        }
    }
    assert_eq!(found, covered);
}

#[test]
fn offsets_are_kept_and_moncreneau_times_stay_local() {
    let eagenda = load(Provider::Eagenda, "appointment.created.json");
    let start = eagenda.appointment().unwrap().starts_at.unwrap();
    assert_eq!(
        start.with_offset().unwrap().offset().local_minus_utc(),
        -3 * 3600
    );

    let moncreneau = load(Provider::Moncreneau, "appointment.created.json");
    assert!(matches!(
        moncreneau.appointment().unwrap().starts_at,
        Some(Timestamp::Local(_))
    ));
}

#[test]
fn a_fixture_reparsed_is_identical() {
    for case in cases() {
        let a = load(case.provider, case.file);
        let b = load(case.provider, case.file);
        assert_eq!(a.event(), b.event());
        assert_eq!(a.idempotency_key(), b.idempotency_key());
        assert_eq!(a.json(), b.json());
    }
}

#[test]
fn minified_and_pretty_fixtures_give_the_same_event_and_key() {
    // Keys built from fields do not depend on the body's formatting (none of
    // these fixtures falls back to the body hash).
    for case in cases() {
        let pretty = load(case.provider, case.file);
        let minified = serde_json::to_vec(&pretty.json()).unwrap();
        let again = Delivery::parse(case.provider, &NoHeaders, minified.into()).unwrap();
        assert_eq!(pretty.event(), again.event(), "{}", case.file);
        assert_eq!(
            pretty.idempotency_key(),
            again.idempotency_key(),
            "{}",
            case.file
        );
    }
}
