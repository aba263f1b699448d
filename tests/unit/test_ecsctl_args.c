/* Tests for ecsctl's command lines, table-driven: each row is an argv, the exit status, and
 * the requests the fake endpoint received ("Action K=V…", common parameters left out), so
 * every verb's mapping to actions and parameters is pinned. Usage errors send nothing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "test_ecsctl_fake.h"
#include "verbs.h"

struct row {
	const char *argv;
	int status;
	const char *requests;
	const char *out; /* NULL: not checked */
};

#define IMAGE_STATUSES "Status=Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated"

static const struct row rows[] = {
	/* run */
	{ "run --image tiny --type ecs.t1.small", 0, "RunInstances ImageId=tiny InstanceType=ecs.t1.small\n",
	  "i-fake1\n" },
	{ "run --image tiny --type ecs.t1.small --keypair k --count 2 --name web --hostname h1 --password Pa55 "
	  "--zone z --system-disk 40 --security-group sg-1 --disk 10 --disk 20",
	  0,
	  "RunInstances ImageId=tiny InstanceType=ecs.t1.small Amount=2 KeyPairName=k InstanceName=web HostName=h1 "
	  "Password=Pa55 ZoneId=z SystemDisk.Size=40 SecurityGroupId=sg-1 DataDisk.1.Size=10 DataDisk.2.Size=20\n",
	  "i-fake1\ni-fake2\n" },
	{ "run --image tiny --type t --security-group sg-1 --security-group sg-2", 0,
	  "RunInstances ImageId=tiny InstanceType=t SecurityGroupIds.1=sg-1 SecurityGroupIds.2=sg-2\n", NULL },
	{ "run --image=tiny --type=t --count=2 --wait", 0,
	  "RunInstances ImageId=tiny InstanceType=t Amount=2\n"
	  "DescribeInstances InstanceIds=[\"i-fake1\",\"i-fake2\"] PageSize=100\n",
	  "i-fake1\ni-fake2\n" },
	/* ls, show */
	{ "ls", 0, "DescribeInstances PageNumber=1 PageSize=100\n", "" },
	{ "ls --status Running --zone z --name web", 0,
	  "DescribeInstances Status=Running ZoneId=z InstanceName=web PageNumber=1 PageSize=100\n", "" },
	{ "show i-1", 1, "DescribeInstances InstanceIds=[\"i-1\"]\n", "" },
	/* start, stop, reboot, rm, wait */
	{ "start i-1", 0, "StartInstance InstanceId=i-1\n", "" },
	{ "start i-1 i-2", 0, "StartInstance InstanceId=i-1\nStartInstance InstanceId=i-2\n", "" },
	{ "stop i-1", 0, "StopInstance InstanceId=i-1\n", "" },
	{ "stop i-1 --force", 0, "StopInstance InstanceId=i-1 ForceStop=true\n", "" },
	{ "stop --force=false i-1", 0, "StopInstance InstanceId=i-1\n", "" },
	{ "reboot i-1 --force", 0, "RebootInstance InstanceId=i-1 ForceStop=true\n", "" },
	{ "rm i-1 --force", 0, "DeleteInstance InstanceId=i-1 Force=true\n", "" },
	{ "rm i-1 --wait", 0, "DeleteInstance InstanceId=i-1\nDescribeInstances InstanceIds=[\"i-1\"] PageSize=100\n",
	  "" },
	{ "wait i-1 --status deleted", 0, "DescribeInstances InstanceIds=[\"i-1\"] PageSize=100\n", "" },
	{ "wait i-1 --status Running", 1, "DescribeInstances InstanceIds=[\"i-1\"] PageSize=100\n", "" },
	/* disk */
	{ "disk create --size 20", 0, "DescribeZones\nCreateDisk ZoneId=cn-local-a Size=20\n", "d-fake1\n" },
	{ "disk create --size 20 --zone z --name data --category cloud_ssd", 0,
	  "CreateDisk ZoneId=z Size=20 DiskName=data DiskCategory=cloud_ssd\n", NULL },
	{ "disk create --snapshot s-1 --zone z --wait", 0,
	  "CreateDisk ZoneId=z SnapshotId=s-1\nDescribeDisks DiskIds=[\"d-fake1\"] PageSize=100\n", NULL },
	{ "disk ls --instance i-1", 0, "DescribeDisks InstanceId=i-1 PageNumber=1 PageSize=100\n", "" },
	{ "disk attach d-1 i-1", 0, "AttachDisk DiskId=d-1 InstanceId=i-1\n", "" },
	{ "disk detach d-1 i-1", 0, "DetachDisk DiskId=d-1 InstanceId=i-1\n", "" },
	{ "disk resize d-1 40", 0, "ResizeDisk DiskId=d-1 NewSize=40\n", "" },
	{ "disk rm d-1 d-2", 0, "DeleteDisk DiskId=d-1\nDeleteDisk DiskId=d-2\n", "" },
	/* snapshot */
	{ "snapshot create --disk d-1 --name nightly", 0, "CreateSnapshot DiskId=d-1 SnapshotName=nightly\n",
	  "s-fake1\n" },
	{ "snapshot create --disk d-1 --wait", 0,
	  "CreateSnapshot DiskId=d-1\nDescribeSnapshots SnapshotIds=[\"s-fake1\"] PageSize=100\n", "s-fake1\n" },
	{ "snapshot ls --disk d-1", 0, "DescribeSnapshots DiskId=d-1 PageNumber=1 PageSize=100\n", "" },
	{ "snapshot ls", 0, "DescribeSnapshots PageNumber=1 PageSize=100\n", "" },
	{ "snapshot rm s-1", 0, "DeleteSnapshot SnapshotId=s-1\n", "" },
	{ "snapshot prune --disk d-1 --keep 2", 0, "DescribeSnapshots DiskId=d-1 PageNumber=1 PageSize=100\n", "" },
	/* image */
	{ "image create --snapshot s-1 --name img", 0, "CreateImage SnapshotId=s-1 ImageName=img\n", "m-fake1\n" },
	{ "image create --instance i-1 --wait", 0,
	  "CreateImage InstanceId=i-1\nDescribeImages ImageId=m-fake1 PageSize=100 " IMAGE_STATUSES "\n", NULL },
	{ "image ls", 0, "DescribeImages " IMAGE_STATUSES " PageNumber=1 PageSize=100\n", "" },
	{ "image ls --owner self", 0,
	  "DescribeImages " IMAGE_STATUSES " ImageOwnerAlias=self PageNumber=1 PageSize=100\n", "" },
	{ "image rm m-1", 0, "DeleteImage ImageId=m-1\n", "" },
	{ "image import --name n --path /srv/img --os-type linux", 0,
	  "ImportImage ImageName=n DiskDeviceMapping.1.ImportPath=/srv/img OSType=linux\n", "m-fake1\n" },
	/* keypair (create and import have their own tests) */
	{ "keypair ls", 0, "DescribeKeyPairs PageNumber=1 PageSize=50\n", "" },
	{ "keypair rm a b", 0, "DeleteKeyPairs KeyPairNames=[\"a\",\"b\"]\n", "" },
	/* policy */
	{ "policy create --name p --time-points 0,12 --weekdays 1,7 --retention-days 7", 0,
	  "CreateAutoSnapshotPolicy autoSnapshotPolicyName=p timePoints=[\"0\",\"12\"] repeatWeekdays=[\"1\",\"7\"] "
	  "retentionDays=7\n",
	  "sp-fake\n" },
	{ "policy create --name p --time-points 23 --weekdays 1,2,3,4,5,6,7 --retention-days -1", 0,
	  "CreateAutoSnapshotPolicy autoSnapshotPolicyName=p timePoints=[\"23\"] "
	  "repeatWeekdays=[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\"] retentionDays=-1\n",
	  NULL },
	{ "policy ls", 0, "DescribeAutoSnapshotPolicyEx PageNumber=1 PageSize=100\n", "" },
	{ "policy apply sp-1 d-1 d-2", 0,
	  "ApplyAutoSnapshotPolicy autoSnapshotPolicyId=sp-1 diskIds=[\"d-1\",\"d-2\"]\n", "" },
	{ "policy cancel d-1", 0, "CancelAutoSnapshotPolicy diskIds=[\"d-1\"]\n", "" },
	{ "policy rm sp-1", 0, "DeleteAutoSnapshotPolicy autoSnapshotPolicyId=sp-1\n", "" },
	/* lb (SLB's version, 2014-05-15, checked by the fake) */
	{ "lb create", 0, "CreateLoadBalancer\n", "lb-fake\n" },
	{ "lb create --name web --type intranet --zone z", 0,
	  "CreateLoadBalancer LoadBalancerName=web AddressType=intranet MasterZoneId=z\n", "lb-fake\n" },
	{ "lb ls", 0, "DescribeLoadBalancers PageNumber=1 PageSize=100\n", "" },
	{ "lb show lb-1", 0, "DescribeLoadBalancerAttribute LoadBalancerId=lb-1\n", NULL },
	{ "lb rm lb-1 lb-2", 0, "DeleteLoadBalancer LoadBalancerId=lb-1\nDeleteLoadBalancer LoadBalancerId=lb-2\n", "" },
	{ "lb set-status lb-1 inactive", 0, "SetLoadBalancerStatus LoadBalancerId=lb-1 LoadBalancerStatus=inactive\n", "" },
	{ "lb listener-add lb-1 --protocol tcp --port 80", 0,
	  "CreateLoadBalancerTCPListener LoadBalancerId=lb-1 ListenerPort=80 BackendServerPort=80 Bandwidth=-1\n", "" },
	{ "lb listener-add lb-1 --protocol tcp --port 80 --backend-port 8080 --scheduler rr --bandwidth 10 "
	  "--health-check http --check-port 81 --uri /health --domain www.example.com --http-codes http_2xx,http_3xx "
	  "--interval 3 --timeout 4 --healthy 2 --unhealthy 5 --start",
	  0,
	  "CreateLoadBalancerTCPListener LoadBalancerId=lb-1 ListenerPort=80 BackendServerPort=8080 Bandwidth=10 "
	  "Scheduler=rr HealthCheckType=http HealthCheckConnectPort=81 HealthCheckInterval=3 HealthCheckConnectTimeout=4 "
	  "HealthyThreshold=2 UnhealthyThreshold=5 HealthCheckURI=/health HealthCheckDomain=www.example.com "
	  "HealthCheckHttpCode=http_2xx,http_3xx\n"
	  "StartLoadBalancerListener LoadBalancerId=lb-1 ListenerPort=80 ListenerProtocol=tcp\n",
	  "" },
	{ "lb listener-add lb-1 --protocol udp --port 53 --health-check off", 0,
	  "CreateLoadBalancerUDPListener LoadBalancerId=lb-1 ListenerPort=53 BackendServerPort=53 Bandwidth=-1 "
	  "HealthCheck=off\n",
	  "" },
	{ "lb listener-start lb-1 80", 0, "StartLoadBalancerListener LoadBalancerId=lb-1 ListenerPort=80\n", "" },
	{ "lb listener-stop lb-1 53 --protocol udp", 0,
	  "StopLoadBalancerListener LoadBalancerId=lb-1 ListenerPort=53 ListenerProtocol=udp\n", "" },
	{ "lb listener-rm lb-1 80", 0, "DeleteLoadBalancerListener LoadBalancerId=lb-1 ListenerPort=80\n", "" },
	{ "lb backend-add lb-1 i-1:50 i-2", 0,
	  "AddBackendServers LoadBalancerId=lb-1 BackendServers=[{\"ServerId\":\"i-1\",\"Weight\":\"50\"},"
	  "{\"ServerId\":\"i-2\",\"Weight\":\"100\"}]\n",
	  "" },
	{ "lb backend-rm lb-1 i-1", 0, "RemoveBackendServers LoadBalancerId=lb-1 BackendServers=[{\"ServerId\":\"i-1\"}]\n",
	  "" },
	{ "lb backend-set lb-1 i-1:0", 0,
	  "SetBackendServers LoadBalancerId=lb-1 BackendServers=[{\"ServerId\":\"i-1\",\"Weight\":\"0\"}]\n", "" },
	{ "lb health lb-1 --port 80", 0, "DescribeHealthStatus LoadBalancerId=lb-1 ListenerPort=80\n", "i-1\n" },
	/* eip */
	{ "eip allocate i-1", 0, "AllocatePublicIpAddress InstanceId=i-1\n", "192.0.2.1\n" },
	{ "eip allocate i-1 --address 192.0.2.7", 0, "AllocatePublicIpAddress InstanceId=i-1 IpAddress=192.0.2.7\n",
	  "192.0.2.1\n" },
	{ "eip release 192.0.2.1 i-1", 0, "ReleasePublicIpAddress PublicIpAddress=192.0.2.1 InstanceId=i-1\n", "" },
	{ "eip ls", 0, "DescribeInstances PageNumber=1 PageSize=100\n", "" },
	/* api */
	{ "api DescribeRegions", 0, "DescribeRegions\n", NULL },
	{ "api DescribeInstances --InstanceIds '[\"i-x\"]' --Tag.1.Key k --PageSize=5", 0,
	  "DescribeInstances InstanceIds=[\"i-x\"] Tag.1.Key=k PageSize=5\n", NULL },
	/* global options before and after the verb */
	{ "-o json --region r2 ls", 0, "DescribeInstances PageNumber=1 PageSize=100\n", NULL },
	{ "ls -otext --method GET", 0, "DescribeInstances PageNumber=1 PageSize=100\n", "" },
	{ "stop i-1 -- --odd-name", 0, "StopInstance InstanceId=i-1\nStopInstance InstanceId=--odd-name\n", "" },
	{ "help", 0, "", NULL },
	{ "help disk create", 0, "", NULL },
	{ "ls --help", 0, "", NULL },
	{ "--version", 0, "", "ecsctl 1.0.0 (ECS API 2014-05-26)\n" },

	/* usage errors: exit 2, nothing sent */
	{ "", 2, "", "" },
	{ "frobnicate", 2, "", "" },
	{ "disk", 2, "", "" },
	{ "disk frob", 2, "", "" },
	{ "run --type t", 2, "", "" },
	{ "run --image tiny --type t --count 0", 2, "", "" },
	{ "run --image tiny --type t --count 101", 2, "", "" },
	{ "run --image tiny --type t --disk x", 2, "", "" },
	{ "run --image tiny --type t --image other", 2, "", "" },
	{ "run --image tiny --type t --user-data /nonexistent", 2, "", "" },
	{ "run --image", 2, "", "" },
	{ "run --image tiny --type t extra", 2, "", "" },
	{ "start", 2, "", "" },
	{ "show i-1 i-2", 2, "", "" },
	{ "show ''", 2, "", "" },
	{ "stop i-1 --bogus", 2, "", "" },
	{ "stop i-1 --force=maybe", 2, "", "" },
	{ "reboot i-1 --wait", 2, "", "" },
	{ "disk create", 2, "", "" },
	{ "disk resize d-1 big", 2, "", "" },
	{ "disk attach d-1", 2, "", "" },
	{ "snapshot prune --disk d-1", 2, "", "" },
	{ "snapshot prune --disk d-1 --keep -1", 2, "", "" },
	{ "image create --name x", 2, "", "" },
	{ "image create --snapshot s --instance i", 2, "", "" },
	{ "image import --name n", 2, "", "" },
	{ "keypair create ../evil", 2, "", "" },
	{ "keypair create k1 k2", 2, "", "" },
	{ "keypair import k --public-key /nonexistent", 2, "", "" },
	{ "policy create --name p --time-points 24 --weekdays 1 --retention-days 7", 2, "", "" },
	{ "policy create --name p --time-points 1,1 --weekdays 1 --retention-days 7", 2, "", "" },
	{ "policy create --name p --time-points 1 --weekdays 0 --retention-days 7", 2, "", "" },
	{ "policy create --name p --time-points 1 --weekdays 1 --retention-days 0", 2, "", "" },
	{ "policy apply sp-1", 2, "", "" },
	{ "wait i-1 --status Exploded", 2, "", "" },
	{ "wait i-1 --status Running --timeout abc", 2, "", "" },
	{ "wait i-1", 2, "", "" },
	{ "-o yaml ls", 2, "", "" },
	{ "ls -o", 2, "", "" },
	{ "--method PUT ls", 2, "", "" },
	{ "--request-timeout 0 ls", 2, "", "" },
	{ "--endpoint ftp://x ls", 2, "", "" },
	{ "api 'Describe Instances'", 2, "", "" },
	{ "api DescribeRegions --PageSize 1 --PageSize 2", 2, "", "" },
	{ "api", 2, "", "" },
	{ "ls -x", 2, "", "" },
	{ "-- ls", 2, "", "" },
	{ "help nothing", 2, "", "" },
	{ "lb listener-add lb-1 --port 80", 2, "", "" },
	{ "lb listener-add lb-1 --protocol sctp --port 80", 2, "", "" },
	{ "lb listener-add lb-1 --protocol tcp --port 0", 2, "", "" },
	{ "lb listener-add lb-1 --protocol tcp --port 80 --interval 51", 2, "", "" },
	{ "lb listener-add lb-1 --protocol tcp --port 80 --health-check icmp", 2, "", "" },
	{ "lb listener-start lb-1 http", 2, "", "" },
	{ "lb create --type public", 2, "", "" },
	{ "lb set-status lb-1 on", 2, "", "" },
	{ "lb backend-add lb-1 i-1:101", 2, "", "" },
	{ "lb backend-add lb-1 :5", 2, "", "" },
	{ "lb backend-add lb-1", 2, "", "" },
	{ "lb backend-set lb-1 i-1", 2, "", "" },
	{ "lb backend-rm lb-1 i-1:5", 2, "", "" },
	{ "eip release", 2, "", "" },
	{ "eip allocate i-1 i-2", 2, "", "" },
};

static void test_rows(void **state)
{
	unsigned failed = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *row = &rows[i];
		struct run_result res;
		_cleanup_free_ char *log = NULL;

		fake_reset();
		res = run_ecsctl(row->argv, false);
		log = fake_log();
		if (res.status != row->status || !streq(log, row->requests) ||
		    (row->out && !streq(res.out, row->out))) {
			fprintf(stderr,
				"row %zu: ecsctl %s\n  status %d (want %d)\n  requests:\n%s  want:\n%s  stdout:\n%s"
				"  want:\n%s  stderr:\n%s",
				i, row->argv, res.status, row->status, log, row->requests, res.out,
				row->out ? row->out : "(any)\n", res.err);
			failed++;
		}
		if (row->status == 2 && !strstr(res.err, "ecsctl") && !strstr(res.err, "usage"))
			fprintf(stderr, "row %zu: a usage error without a message\n", i), failed++;
		run_result_clear(&res);
	}
	assert_int_equal(fake.bad, 0);
	assert_int_equal(failed, 0);
}

/* --user-data: the file's bytes, base64-encoded; more than 32 KiB is refused. */
static void test_user_data(void **state)
{
	char path[128], big[128], line[512];
	_cleanup_free_ char *log = NULL, *text = calloc(1, 32 * 1024 + 2);
	struct run_result res;

	(void)state;
	assert_non_null(text);
	fake_reset();
	fake_write_home("ud.sh", "#!/bin/sh\necho hi\n", path, sizeof(path));
	snprintf(line, sizeof(line), "run --image tiny --type t --user-data %s", path);
	res = run_ecsctl(line, false);
	assert_int_equal(res.status, 0);
	log = fake_log();
	assert_string_equal(log, "RunInstances ImageId=tiny InstanceType=t UserData=IyEvYmluL3NoCmVjaG8gaGkK\n");
	run_result_clear(&res);

	memset(text, 'x', 32 * 1024 + 1);
	fake_write_home("big", text, big, sizeof(big));
	snprintf(line, sizeof(line), "run --image tiny --type t --user-data %s", big);
	expect_run(line, 2, "32 KiB");
}

/* Completion offers what the parser accepts. */
static void test_complete(void **state)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	struct ecsctl ctx;
	char *w1[] = { "di" };
	char *w2[] = { "disk", "" };
	char *w3[] = { "run", "--ke" };
	char *w4[] = { "ls", "-o", "j" };
	char *w5[] = { "--output", "=", "t" };
	char *w6[] = { "help", "snap" };
	char *w7[] = { "ssh", "i-1", "--", "" };
	char *w8[] = { "snapshot", "prune", "--" };

	(void)state;
	ecsctl_init(&ctx, stdout, stderr);
#define COMPLETE(words, want)                                          \
	do {                                                           \
		f = open_memstream(&buf, &size);                       \
		ecsctl_complete(&ctx, f, ARRAY_SIZE(words), words);    \
		fclose(f);                                             \
		assert_string_equal(buf, want);                        \
		free(buf);                                             \
		buf = NULL;                                            \
	} while (0)
	COMPLETE(w1, "disk\n");
	COMPLETE(w2, "create\nls\nattach\ndetach\nresize\nrm\n");
	COMPLETE(w3, "--keypair\n");
	COMPLETE(w4, "json\n");
	COMPLETE(w5, "table\ntext\n");
	COMPLETE(w6, "snapshot\n");
	COMPLETE(w7, "");
	COMPLETE(w8, "--output\n--profile\n--config\n--endpoint\n--access-key-id\n--access-key-secret\n--region\n"
		     "--request-timeout\n--method\n--debug\n--help\n--version\n--disk\n--keep\n--dry-run\n");
#undef COMPLETE
	ecsctl_done(&ctx);
}

/* Each verb does one thing: its own run function or one table row (ecsctl_verb_run), and
 * help can name the actions of each. */
static void test_verbs_do_one_thing(void **state)
{
	const struct ecsctl_verb *v;
	char buf[256];

	(void)state;
	for (size_t i = 0; (v = ecsctl_verb_at(i)); i++) {
		int n = !!v->run + !!v->list + !!v->create + !!v->each;

		if (n != 1 || (!ecsctl_verb_actions(v, buf, sizeof(buf)) && !streq(v->name, "help")))
			fail_msg("verb %s %s: %d ways to run, actions %s", v->group ? v->group : "-", v->name, n,
				 v->actions ? v->actions : "(none)");
	}
}

UNIT_MAIN("ecsctl_args", NULL, NULL, fake_group_setup, fake_group_teardown,
	  cmocka_unit_test(test_rows),
	  cmocka_unit_test(test_user_data),
	  cmocka_unit_test(test_complete),
	  cmocka_unit_test(test_verbs_do_one_thing))
