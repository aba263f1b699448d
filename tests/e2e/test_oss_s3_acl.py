"""S3 ACLs as grants (issue 14): PutBucketAcl and PutObjectAcl with an AccessControlPolicy
body (boto3's AccessControlPolicy=, as the S3 console and SDKs send it) take effect when the
grants are a canned ACL's (owner FULL_CONTROL; AllUsers READ, or READ and WRITE), enforced
for anonymous callers and other accounts, and read back as the same grants; any other grant
is 501 NotImplemented and changes nothing. The same for x-amz-grant-* headers on PutBucket,
PutObject, CreateMultipartUpload and the two PutAcl calls (boto3's Grant*= arguments).
No guests: no lock."""

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


def test_grant_headers(oss, alice, bob):
    s3, other = client(oss, alice), client(oss, bob)
    owner = s3.list_buckets()["Owner"]["ID"]
    bob_id = other.list_buckets()["Owner"]["ID"]
    everyone = f'uri="{ALL_USERS}"'
    s3.create_bucket(Bucket="hdr-r", GrantRead=everyone, GrantFullControl=f'id="{owner}"')
    assert all_users(s3.get_bucket_acl(Bucket="hdr-r")) == ["READ"]
    s3.put_object(Bucket="hdr-r", Key="k", Body=b"data")
    assert [o["Key"] for o in other.list_objects_v2(Bucket="hdr-r")["Contents"]] == ["k"]
    assert requests.get(f"{oss.endpoint}/hdr-r/k", timeout=30).content == b"data"
    assert code(other.put_object, Bucket="hdr-r", Key="bob", Body=b"x") == (403, "AccessDenied")
    s3.create_bucket(Bucket="hdr-rw", GrantRead=everyone, GrantWrite=everyone)
    assert all_users(s3.get_bucket_acl(Bucket="hdr-rw")) == ["READ", "WRITE"]
    other.put_object(Bucket="hdr-rw", Key="bob", Body=b"x")

    # An object's grants on PutObject and CreateMultipartUpload; the bucket "private".
    s3.create_bucket(Bucket="hdr-p")
    s3.put_object(Bucket="hdr-p", Key="pub", Body=b"pub", GrantRead=everyone)
    assert all_users(s3.get_object_acl(Bucket="hdr-p", Key="pub")) == ["READ"]
    assert other.get_object(Bucket="hdr-p", Key="pub")["Body"].read() == b"pub"
    assert requests.get(f"{oss.endpoint}/hdr-p/pub", timeout=30).content == b"pub"
    uid = s3.create_multipart_upload(Bucket="hdr-p", Key="mp", GrantRead=everyone)["UploadId"]
    etag = s3.upload_part(Bucket="hdr-p", Key="mp", UploadId=uid, PartNumber=1, Body=b"mp")["ETag"]
    s3.complete_multipart_upload(Bucket="hdr-p", Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert requests.get(f"{oss.endpoint}/hdr-p/mp", timeout=30).content == b"mp"

    # The ACL calls take them too, and only from the owner.
    s3.put_bucket_acl(Bucket="hdr-p", GrantRead=everyone)
    assert all_users(s3.get_bucket_acl(Bucket="hdr-p")) == ["READ"]
    s3.put_object_acl(Bucket="hdr-p", Key="pub", GrantFullControl=f'id="{owner}"')
    assert requests.get(f"{oss.endpoint}/hdr-p/pub", timeout=30).status_code == 403
    assert code(other.put_bucket_acl, Bucket="hdr-p", GrantRead=everyone) == (403, "AccessDenied")
    assert code(other.put_object_acl, Bucket="hdr-p", Key="pub", GrantRead=everyone) == (403, "AccessDenied")

    # Grants no canned ACL makes: 501, nothing made or changed; malformed: 400.
    for bad in ({"GrantRead": f'id="{bob_id}"'}, {"GrantWrite": everyone}, {"GrantReadACP": everyone},
                {"GrantWriteACP": f'id="{owner}"'}, {"GrantRead": 'emailAddress="bob@example.com"'},
                {"GrantFullControl": f'id="{bob_id}"'}):
        assert code(s3.create_bucket, Bucket="hdr-bad", **bad) == (501, "NotImplemented")
        assert code(s3.put_bucket_acl, Bucket="hdr-p", **bad) == (501, "NotImplemented")
        if "GrantWrite" in bad:
            continue  # S3 has no object WRITE grant: boto3 refuses it
        assert code(s3.put_object, Bucket="hdr-p", Key="bad", Body=b"x", **bad) == (501, "NotImplemented")
        assert code(s3.put_object_acl, Bucket="hdr-p", Key="pub", **bad) == (501, "NotImplemented")
        assert code(s3.create_multipart_upload, Bucket="hdr-p", Key="bad", **bad) == (501, "NotImplemented")
    for bad in ('nonsense', 'id="', 'colour="red"', "id=" + "x" * 300):
        assert code(s3.put_object, Bucket="hdr-p", Key="bad", Body=b"x", GrantRead=bad) == (400, "InvalidArgument")
    assert code(s3.create_bucket, Bucket="hdr-bad", ACL="public-read", GrantRead=everyone) == \
        (400, "InvalidRequest")
    assert code(s3.head_bucket, Bucket="hdr-bad")[0] == 404
    assert code(s3.head_object, Bucket="hdr-p", Key="bad")[0] == 404
    assert s3.list_multipart_uploads(Bucket="hdr-p").get("Uploads") is None
    assert all_users(s3.get_bucket_acl(Bucket="hdr-p")) == ["READ"]
    assert all_users(s3.get_object_acl(Bucket="hdr-p", Key="pub")) == []

    for b, keys in (("hdr-r", ["k"]), ("hdr-rw", ["bob"]), ("hdr-p", ["pub", "mp"])):
        for k in keys:
            s3.delete_object(Bucket=b, Key=k)
        s3.delete_bucket(Bucket=b)


def test_list_uploads_needs_read_access(oss, alice, bob):
    s3, other = client(oss, alice), client(oss, bob)
    s3.create_bucket(Bucket="lmu")
    uid = s3.create_multipart_upload(Bucket="lmu", Key="k")["UploadId"]
    assert code(other.list_multipart_uploads, Bucket="lmu") == (403, "AccessDenied")
    s3.put_bucket_acl(Bucket="lmu", ACL="public-read")
    assert [u["UploadId"] for u in other.list_multipart_uploads(Bucket="lmu")["Uploads"]] == [uid]
    assert code(other.create_multipart_upload, Bucket="lmu", Key="b") == (403, "AccessDenied")
    assert code(other.abort_multipart_upload, Bucket="lmu", Key="k", UploadId=uid) == (403, "AccessDenied")
    s3.abort_multipart_upload(Bucket="lmu", Key="k", UploadId=uid)
    s3.delete_bucket(Bucket="lmu")
