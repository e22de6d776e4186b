// Package dcsapitest runs a fake Huawei Cloud DCS API, with IAM's project
// lookups and the ECS metadata service beside it, on one local listener. It
// checks request signatures the way the API gateway does and can be told to
// fail the way the real services and the network do. The dcsapi tests, the
// exporter's tests and its --demo mode use it; it is safe for concurrent
// use.
//
// Each behaviour of the fake follows a source, so that its picture of the
// cloud can be checked against them. "SDK" is
// github.com/huaweicloud/huaweicloud-sdk-go-v3 (v0.1.207); "api-ref" is the
// DCS API reference (Huawei Cloud's api-dcs pages, and its Open Telekom Cloud
// copy in github.com/opentelekomcloud-docs/distributed-cache-service,
// api-ref/source); "signing guide" is Huawei Cloud's API Request Signing
// Guide (support.huaweicloud.com/devg-apisign); "IAM ref" is the IAM API
// reference (support.huaweicloud.com/api-iam); "Terraform" is
// github.com/huaweicloud/terraform-provider-huaweicloud,
// huaweicloud/services/dcs. "Ours" marks a choice the sources leave open, or
// a test aid no source describes. docs/api-facts.md states the facts the
// exporter relies on, each with its source.
//
//	Behaviour                                        Switch                     Source
//	-----------------------------------------------  -------------------------  ------------------------------------------------
//	SDK-HMAC-SHA256 signatures: canonical request,   (always)                   SDK core/auth/signer/signer.go; signing guide
//	  signed headers (not Content-Type, not names
//	  with "_"), hex SHA-256 payload hash
//	SignedHeaders must hold x-sdk-date, nothing else (always)                   signing guide FAQ "Are Request Header Parameters
//	  is required                                                                 Required for Signing Requests?"
//	Signature dates more than 15 minutes from the    SetClock,                  APIG FAQ ("signature expired ... server time")
//	  gateway's clock are refused                      SetGatewayClockOffset
//	Every DCS and IAM answer has a Date header from  SetGatewayClockOffset      RFC 9110 §6.6.1 (the clock is the gateway's)
//	  the gateway's clock
//	Temporary keys need X-Security-Token, signed     AddTemporaryKey,           SDK core/auth/base_credentials.go
//	                                                   SetMetadataCredentials
//	X-Project-Id, when sent, must name the path's    (always)                   SDK core/auth/basic_credentials.go sets both;
//	  project                                                                     the refusal is ours
//	A refused signature is 401 APIGW.0301 "verify    (always)                   signing guide "Error Codes"
//	  aksk signature fail"
//	More than 5 failures in a row lock the access   (always)                   APIG FAQ ("AK access failed to reach the
//	  key for 5 minutes, by the gateway's clock                                   limit,forbidden"); signing guide "Error Codes"
//	An unknown path or method is 404 APIGW.0101,     (always)                   signing guide "Error Codes"
//	  before the signature is checked
//	A project never set up is 403 APIGW.0310 "The    (always)                   signing guide "Error Codes"; the case is ours
//	  project is unavailable"
//	Every answer has X-Request-Id; gateway errors    (always)                   SDK core/sdkerr/errors.go; signing guide
//	  repeat it as request_id                                                     "Error Codes"
//	Error shapes: gateway, DCS ErrorInfo             Fault.Shape                SDK core/sdkerr/errors.go; api-ref "Error Codes"
//	  (error_ext_msg null), code/message, IAM's                                   (legacy codes such as 111400002); IAM ref
//	  nested {"error": {code, message, title}};                                   "Error Codes"; request ids: ours, after those
//	  numeric codes as JSON numbers; the request id
//	  in X-Request-Id, the body or X-IAM-Trace-Id
//	Throttling is 429 APIGW.0308, with Retry-After   FaultThrottle              signing guide "Error Codes"; Retry-After: ours
//	  when asked                                                                  (RFC 9110)
//	v2 status counts: 13 counters at the top and     (always)                   SDK services/dcs/v2/model: model_status_
//	  in redis and memcached; other engines as                                    statistic.go, model_list_number_of_instances_
//	  objects of their own; include_failure                                       in_different_status_{request,response}.go
//	v1.0 status path with its own counters, redis   (always)                   OTC api-ref outdated_apis_v1/instance_
//	  only                                                                        management_apis/querying_dcs_instance_status
//	A cloud without the v2 status path: 404          SetV2StatusAvailable       OTC api-ref documents status as v1.0 only;
//	  APIGW.0101 there                                                            signing guide "Error Codes"
//	List paging: offset >= 0 (else 400 DCS.4800),    (always)                   api-ref "Querying All DCS Instances";
//	  limit 1 to 1000, default 10 (else 400                                       SDK model_list_instances_request.go;
//	  DCS.4801, ours), instance_num, status and                                   DCS.4801: ours
//	  include_failure filters
//	An offset past the end is an empty page, or     SetListPastEndRefused      api-ref's 400 example (DCS.4800 "Invalid offset
//	  400 DCS.4800                                                                in the request."); which one: not documented
//	instance_num out of step with the pages          FaultInstanceNum           ours
//	List items in InstanceListInfo's fields, with    (always)                   api-ref InstanceListInfo table and example
//	  publicip_id {} and a boolean                                                answer
//	  no_password_access, as in the example
//	Sizes under 1 GB as capacity 0 and               (always)                   api-ref example; Terraform
//	  capacity_minor ".125"                                                       resource_huaweicloud_dcs_instance.go
//	                                                                              (setDcsInstanceCapacity)
//	Tags [{key, value}], enterprise_project_id ("0"  Instance fields            api-ref InstanceListInfo table
//	  is the default project), maintain_begin and
//	  maintain_end (HH:mm:ss UTC), service_upgrade
//	  with service_task_id, created_at
//	  (2017-03-31T12:24:46.297Z)
//	enterprise_project_id 0 and tag key 1 as         FaultOddFields             api-ref example answer; the worse types: ours
//	  numbers, and worse types field by field
//	ip comma-separated for a cluster, port,          Instance fields            SDK model_instance_list_info.go (Ip, Port,
//	  domain_name, no_password_access, enable_ssl;                                DomainName, NoPasswordAccess *string,
//	  an empty ip for an instance without address                                 EnableSsl); api-ref InstanceListInfo table; the
//	                                                                              empty ip: ours
//	no_password_access as the SDK's string "true"/   FaultOddFields             SDK NoPasswordAccess *string; port as a string,
//	  "false", port as a string, ip as a number                                   the worse types: ours
//	Maintenance windows of 4 hours from 22, 02, 06,  SampleFleet, Annotate      Terraform resource_huaweicloud_dcs_instance.go
//	  10, 14 or 18 o'clock, or of 1 hour                                          (maintain_begin values); api-ref example
//	                                                                              (18:00:00 to 19:00:00)
//	Statistics (v2 and v1.0 .../instances/           SetStatistic, StatisticOf  SDK model_instance_statistic.go, model_list_
//	  statistic): {"statistics": [...]}, one entry                                statistics_of_running_instances_response.go;
//	  per RUNNING instance, no parameters, no                                     OTC api-ref "Querying Statistics of All Running
//	  paging; used_cpu, input_kbps, output_kbps                                   Instances" (v2 and outdated_apis_v1), example
//	  as strings
//	Statistic values move with the fake's clock:     SetClock                   ours; used_cpu a percentage as the SDK's model
//	  memory within 1% of max of the listing's,                                   says (one v2 page says CPU seconds: docs/
//	  command counts growing from creation, CPU and                               fleet-apis.md)
//	  network in waves of minutes
//	Quota (v2 and v1.0 .../quota): {"quotas":        SetQuotaLimits, QuotaUse   SDK model_show_quota_of_tenant_response.go,
//	  {"resources": [instance, ram]}}, unit GB for                                model_resources.go; OTC api-ref "Querying the
//	  ram and null for instances; v1.0 adds                                       Tenant Quotas" (v2, unit {} there) and "Querying
//	  resource_user; use derived from the fleet                                   the Quota of a Tenant" (v1.0, dcs-api-0312036)
//	Logical nodes (v2 only .../instances-logical-    SetTopology, SwapMaster,   SDK model_batch_show_nodes_information_{request,
//	  nodes): {count, instances: [{instance_id,        SetGroupSingleAZ,          response}.go, model_instance_nodes_info_resp.go,
//	  node_count, nodes}]}, offset counting            SetNodeStatus,             model_nodes_info_resp.go; OTC api-ref "Querying
//	  instances, limit 1 to 100 (default 10), 400      NodesCovered, TopologyOf   Instance Nodes in Batches" (example, DCS.4800;
//	  DCS.4800 for a bad offset; node_port a string                               no v1.0 path); DCS.4801 for a bad limit: ours
//	Nodes only for Redis 4.0 and later, not while    (always)                   OTC api-ref "Querying Instance Nodes in Batches"
//	  creating; Memcached and Redis 3.0 are absent                                ("Available for Redis 4.0 and later instances")
//	Node shapes by spec code (single, cluster,       SetTopology                ours; proxies without group fields (optional in
//	  proxy, else master/standby); replicas take                                  the SDK model)
//	  the instance's zones in turn
//	Backup records (v2 offset/limit, v1.0 start      FailBackups,               SDK model_list_backup_records_{request,response}
//	  from 1/limit, both default 10; begin_time/       SetBackupsDisabled,        .go, model_backup_record_response.go; OTC api-ref
//	  end_time, v1.0 beginTime/endTime, UTC            AddBackupRecord,           "Listing DCS Instance Backup Records" and v1.0
//	  yyyyMMddHHmmss): {total_num,                     BackupsScheduled           "Querying DCS Instance Backup Records"; times as
//	  backup_record_response}, newest first                                       in their examples (2019-05-10T08:31:16.166Z);
//	                                                                              order, total_num over the query, DCS.4802: ours
//	A daily automatic backup per Redis instance      BackupsScheduled           OTC user guide "Backing Up and Restoring DCS
//	  except single-node ones, kept 7 days; waiting,                              Instances", Overview (single-node instances
//	  backuping, then succeed or failed with                                      cannot be backed up; at most 7 days kept);
//	  dcs.08.0002 (a timeout) under FailBackups                                   error codes: SDK model comment, api-ref table
//	An unknown instance's backups are 404 111404022  (always)                   api-ref "Error Codes" ("This DCS instance does
//	                                                                              not exist"); the status: ours
//	A cloud that lacks a fleet API: 404 APIGW.0101   SetAPIAvailable            signing guide "Error Codes"; 403 and others:
//	  before the signature check                                                  InjectFault with FaultStatus
//	Exact 200 bodies of a fleet API                  SetAnswerOverride          ours, for tests of odd answers
//	IAM GET /v3/projects?name=REGION lists the       AddProject                 SDK core/auth/internal/iam_service.go
//	  projects of that exact name, with                                           (KeystoneListProjects); IAM ref
//	  X-IAM-Trace-Id                                                              KeystoneListProjects (iam_06_0001)
//	A key without iam:projects:list gets 403 from    SetIAMProjectListDenied    IAM ref KeystoneListProjects (iam_06_0001) and
//	  /v3/projects, nested, code 403 as a number,                                 "Error Codes"; docs/api-facts.md §3.4; the
//	  X-IAM-Trace-Id alone                                                        message's wording: ours
//	IAM GET /v3/auth/projects lists every project    AddProject                 IAM ref KeystoneListAuthProjects (iam_06_0003);
//	  the key may use, sub-projects                                               sub-projects named REGION_suffix:
//	  (REGION_suffix) under their region's project,                               docs/api-facts.md §3.4; their parent: ours
//	  without a name filter
//	ECS metadata: PUT /meta-data/latest/api/token    SetMetadataCredentials     SDK core/auth/internal/metadata_accessor.go and
//	  (TTL 1 to 21600 s), GET /openstack/latest/                                  model.go
//	  securitykey with or without that token, 404
//	  "Please configure Cloud Service Agency first"
//	  without an agency, unsigned
//	A 3xx answer with a Location elsewhere, after     FaultRedirect              ours, after what a wrong endpoint or a
//	  the signature is checked                                                    rewriting proxy does; the SDK never follows
//	                                                                              one (core/impl/default_http_client.go,
//	                                                                              AllowRedirects false)
//	A listing that never ends: full pages of new     FaultEndlessListing        ours: the attack of a hostile endpoint; the
//	  instances, instance_num 2147483647                                          page shape is api-ref InstanceListInfo's
//	A gateway that echoes a request header back as   Fault.RequestID            ours, after what gateways that echo do
//	  its request id
//	Transport faults (hang, reset mid-body,          InjectFault                ours, after what proxies and networks do
//	  trickle), a proxy's HTML page, truncated,
//	  malformed, empty, oversized or mistyped
//	  bodies, negative and huge counts
package dcsapitest
