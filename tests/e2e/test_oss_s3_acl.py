"""S3 ACLs as grants (issue 14): PutBucketAcl and PutObjectAcl with an AccessControlPolicy
body (boto3's AccessControlPolicy=, as the S3 console and SDKs send it) take effect when the
grants are a canned ACL's (owner FULL_CONTROL; AllUsers READ, or READ and WRITE), enforced
for anonymous callers and other accounts, and read back as the same grants; any other grant
is 501 NotImplemented and changes nothing. No guests: no lock."""

import requests

from ossenv import alice, bob, oss  # noqa: F401 (fixtures)
from test_oss_s3 import client, code

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def policy(owner_id, *perms, extra=()):
    grants = [{"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"}]
    grants += [{"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": p} for p in perms]
    return {"Owner": {"ID": owner_id}, "Grants": grants + list(extra)}


def all_users(acl):
    return sorted(g["Permission"] for g in acl["Grants"] if g["Grantee"].get("URI") == ALL_USERS)


def test_bucket_and_object_grants(oss, alice, bob):
    s3, other = client(oss, alice), client(oss, bob)
    s3.create_bucket(Bucket="grants")
    s3.put_object(Bucket="grants", Key="k", Body=b"data")
    owner = s3.get_bucket_acl(Bucket="grants")["Owner"]["ID"]
    url = f"{oss.endpoint}/grants/k"
    assert requests.get(url, timeout=30).status_code == 403

    s3.put_bucket_acl(Bucket="grants", AccessControlPolicy=policy(owner, "READ"))
    assert all_users(s3.get_bucket_acl(Bucket="grants")) == ["READ"]
    assert requests.get(url, timeout=30).content == b"data"
    assert code(other.put_object, Bucket="grants", Key="bob", Body=b"x") == (403, "AccessDenied")

    s3.put_bucket_acl(Bucket="grants", AccessControlPolicy=policy(owner, "READ", "WRITE"))
    assert all_users(s3.get_bucket_acl(Bucket="grants")) == ["READ", "WRITE"]
    other.put_object(Bucket="grants", Key="bob", Body=b"x")

    s3.put_bucket_acl(Bucket="grants", AccessControlPolicy=policy(owner))
    assert all_users(s3.get_bucket_acl(Bucket="grants")) == []
    assert requests.get(url, timeout=30).status_code == 403

    # The object's own grants win over the bucket's.
    s3.put_object_acl(Bucket="grants", Key="k", AccessControlPolicy=policy(owner, "READ"))
    assert all_users(s3.get_object_acl(Bucket="grants", Key="k")) == ["READ"]
    assert requests.get(url, timeout=30).content == b"data"
    assert other.get_object(Bucket="grants", Key="k")["Body"].read() == b"data"
    s3.put_object_acl(Bucket="grants", Key="k", AccessControlPolicy=policy(owner))
    assert requests.get(url, timeout=30).status_code == 403

    # Grants no canned ACL makes: refused, nothing changed.
    for bad in (policy(owner, "WRITE"), policy(owner, "READ_ACP"),
                policy(owner, extra=[{"Grantee": {"Type": "CanonicalUser", "ID": "someone-else"},
                                      "Permission": "READ"}])):
        assert code(s3.put_bucket_acl, Bucket="grants", AccessControlPolicy=bad) == (501, "NotImplemented")
        assert code(s3.put_object_acl, Bucket="grants", Key="k", AccessControlPolicy=bad) == (501, "NotImplemented")
    assert all_users(s3.get_bucket_acl(Bucket="grants")) == []
    # Only the owner sets them.
    assert code(other.put_bucket_acl, Bucket="grants", AccessControlPolicy=policy(owner, "READ")) == \
        (403, "AccessDenied")
    assert code(other.put_object_acl, Bucket="grants", Key="k", AccessControlPolicy=policy(owner, "READ")) == \
        (403, "AccessDenied")
    for k in ("k", "bob"):
        s3.delete_object(Bucket="grants", Key=k)
    s3.delete_bucket(Bucket="grants")
